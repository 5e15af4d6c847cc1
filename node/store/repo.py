"""Every SQL statement of a node, as storage functions on a transaction.

Handlers never write SQL: they open `Store.transaction()` and call these. Bulk paths use
SQLAlchemy Core executemany (DESIGN.md section 14); nothing here loops one INSERT per row.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from sqlalchemy import (
    Connection,
    Engine,
    LargeBinary,
    Table,
    bindparam,
    cast,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError

from node import logs
from node.domain.calendar import CalendarYear
from node.domain.catalog import CatalogItem, Material
from node.domain.entries import GENESIS, Entry, Head
from node.domain.errors import InternalError
from node.domain.lifecycle import CaseState, Status
from node.domain.timelimits import ClockStop
from node.store.mail import MailTx
from node.store.tables import (
    ALL_TABLES,
    CalendarRow,
    CaseBacklogRow,
    CaseRow,
    CatalogItemRow,
    EntryRow,
    HeadRow,
    LicenseRow,
    MaterialChunkRow,
    MaterialRow,
    MetaRow,
    NodeKeyRow,
    SealedBundleRow,
    StreamTail,
    table_of,
)
from node.store.trust import T_REVOKED, T_ROOTS, TrustTx

T = TypeVar("T")
log = logs.get("store")

# PostgreSQL's deadlock_detected and serialization_failure; SQLite's "database is locked".
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})


def transient(exc: DBAPIError) -> bool:
    """Did the database abort this for a reason that passes with a retry?"""
    if getattr(exc.orig, "sqlstate", None) in TRANSIENT_SQLSTATES:
        return True
    return "database is locked" in str(exc.orig)


T_ENTRIES = table_of(EntryRow)
T_TAILS = table_of(StreamTail)
T_HEADS = table_of(HeadRow)
T_KEYS = table_of(NodeKeyRow)
T_ITEMS = table_of(CatalogItemRow)
T_CALENDARS = table_of(CalendarRow)
T_CASES = table_of(CaseRow)
T_BACKLOG = table_of(CaseBacklogRow)
T_LICENSES = table_of(LicenseRow)
T_MATERIALS = table_of(MaterialRow)
T_CHUNKS = table_of(MaterialChunkRow)
T_BUNDLES = table_of(SealedBundleRow)
T_META = table_of(MetaRow)

# The tables the projection writes and `yiwang rebuild` replays (node.services.projection).
DERIVED_TABLES = (T_CASES, T_BACKLOG, T_ITEMS, T_CALENDARS, T_REVOKED, T_ROOTS)

_ITEM_DETAIL_FIELDS = ("service_objects", "handling_forms", "conditions", "fee", "legal_basis")


def _us(at: dt.datetime | None) -> int | None:
    return None if at is None else int(at.timestamp() * 1_000_000)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _at(us: int) -> dt.datetime:
    """Microseconds since the epoch as an aware UTC datetime, exactly (no float rounding)."""
    return _EPOCH + dt.timedelta(microseconds=us)


def _dt(us: int | None) -> dt.datetime | None:
    return None if us is None else _at(us)


def _comparable(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    if isinstance(value, memoryview):
        return bytes(value)
    return value


def item_row(item: CatalogItem, origin: str, seq: int) -> dict[str, Any]:
    details: dict[str, Any] = {f: getattr(item, f) for f in _ITEM_DETAIL_FIELDS}
    details["service_objects"] = list(item.service_objects)
    details["handling_forms"] = list(item.handling_forms)
    details["materials"] = [asdict(m) for m in item.materials]
    return {
        "implementation_code": item.implementation_code,
        "basic_code": item.basic_code,
        "name": item.name,
        "power_type": item.power_type,
        "division_code": item.division_code,
        "department": item.department,
        "dept_credit_code": item.dept_credit_code,
        "use_level": item.use_level,
        "case_type": item.case_type,
        "legal_limit_days": item.legal_limit_days,
        "promised_limit_days": item.promised_limit_days,
        "agent_allowed": item.agent_allowed,
        "cross_region": item.cross_region,
        "group_name": item.group,
        "limits_source": item.limits_source,
        "details": details,
        "origin": origin,
        "seq": seq,
    }


def item_from_row(r: Any) -> CatalogItem:
    d = r.details
    return CatalogItem(
        basic_code=r.basic_code,
        implementation_code=r.implementation_code,
        name=r.name,
        power_type=r.power_type,
        division_code=r.division_code,
        department=r.department,
        dept_credit_code=r.dept_credit_code,
        use_level=r.use_level,
        service_objects=tuple(d.get("service_objects", ())),
        handling_forms=tuple(d.get("handling_forms", ())),
        case_type=r.case_type,
        legal_limit_days=r.legal_limit_days,
        promised_limit_days=r.promised_limit_days,
        conditions=d.get("conditions", ""),
        materials=tuple(Material(**m) for m in d.get("materials", ())),
        fee=d.get("fee", ""),
        legal_basis=d.get("legal_basis", ""),
        agent_allowed=r.agent_allowed,
        cross_region=r.cross_region,
        group=r.group_name,
        limits_source=r.limits_source,
    )


CASE_COLUMNS = (
    "case_no",
    "item_code",
    "status",
    "handling_division",
    "filing_division",
    "custodian",
    "channel",
    "case_type",
    "limit_days",
    "agent",
    "filed_at_us",
    "accepted_at_us",
    "decided_at_us",
    "closed_at_us",
    "approved",
    "evaluation",
    "due_date",
    "due_provisional",
    "extras",
    "sealed_bundle_hash",
    "last_seq",
    "offered_to",
    "version",
)
# Columns a state change rewrites: all but the key and the sealed bundle hash.
_BUNDLE_AT = CASE_COLUMNS.index("sealed_bundle_hash")
CASE_UPDATE_COLUMNS = CASE_COLUMNS[1:_BUNDLE_AT] + CASE_COLUMNS[_BUNDLE_AT + 1 :]


@dataclass(frozen=True)
class StoredCase:
    """A case's state with the due date stored for it."""

    state: CaseState
    due_date: str
    due_provisional: bool


def _extras(s: CaseState) -> str:
    if not (s.missing_materials or s.requested_materials or s.stops):
        return ""
    stops = [[c.kind, c.start.isoformat(), c.end.isoformat() if c.end else None, c.limit_days] for c in s.stops]
    data = {"missing": list(s.missing_materials), "requested": list(s.requested_materials), "stops": stops}
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def case_row(s: CaseState, seq: int, due_date: str, due_provisional: bool, bundle_hash: bytes = b"") -> tuple[Any, ...]:
    """The cases row of a state, in CASE_COLUMNS order."""
    return (
        s.case_no,
        s.item_code,
        s.status.value,
        s.handling_division,
        s.filing_division,
        s.custodian,
        s.channel,
        s.case_type,
        s.limit_days,
        s.agent,
        _us(s.filed_at),
        _us(s.accepted_at),
        _us(s.decided_at),
        _us(s.closed_at),
        s.approved,
        s.evaluation,
        due_date,
        due_provisional,
        _extras(s),
        bundle_hash,
        seq,
        s.offered_to,
        s.version,
    )


_STATUS = {s.value: s for s in Status}


def case_from_row(r: Any) -> CaseState:
    """A CaseState from a row of `select(T_CASES)` (columns in CASE_COLUMNS order)."""
    (
        case_no,
        item_code,
        status,
        handling,
        filing,
        custodian,
        channel,
        case_type,
        limit_days,
        agent,
        filed_us,
        accepted_us,
        decided_us,
        closed_us,
        approved,
        evaluation,
        _due,
        _prov,
        extras,
        _bundle,
        _seq,
        offered_to,
        version,
    ) = r
    missing: tuple[str, ...] = ()
    requested: tuple[str, ...] = ()
    stops: tuple[ClockStop, ...] = ()
    if extras:
        data = json.loads(extras)
        missing, requested = tuple(data["missing"]), tuple(data["requested"])
        stops = tuple(
            ClockStop(k, dt.date.fromisoformat(a), dt.date.fromisoformat(b) if b else None, lim)
            for k, a, b, lim in data["stops"]
        )
    return CaseState(
        case_no,
        item_code,
        _STATUS[status],
        handling,
        filing,
        custodian,
        channel,
        case_type,
        limit_days,
        _at(filed_us),
        agent,
        _dt(accepted_us),
        _dt(decided_us),
        _dt(closed_us),
        missing,
        requested,
        stops,
        None if approved is None else bool(approved),
        evaluation,
        offered_to,
        version,
    )


ENTRY_COLUMNS = (*Entry._fields, "held_ns")  # the entries table's columns, in order


def held_rows(entries: Sequence[Entry]) -> list[tuple[Any, ...]]:
    """Entries as stored rows: each with the time (ns) this node stored it, increasing."""
    now = time.time_ns()
    return [(*e, now + i) for i, e in enumerate(entries)]


# Entry columns for reading. Byte columns go through CAST(... AS BLOB), so a value tampered
# into another SQL type is still read (and then fails verification) instead of breaking the reader.
_ENTRY_READ = [
    cast(col, LargeBinary).label(col.name) if col.name in ("prev_hash", "body", "hash") else col
    for col in T_ENTRIES.columns
]


def entry_from_row(r: Any) -> Entry:
    return Entry(
        r.origin, r.stream, r.seq, bytes(r.prev_hash), r.kind, bytes(r.body), bytes(r.hash), r.subject, r.recorded_at_us
    )


def _head(r: Any) -> Head:
    return Head(r.origin, r.stream, r.seq, bytes(r.hash), r.signed_at_us, r.alg, bytes(r.key_id), bytes(r.signature))


class Tx(TrustTx, MailTx):
    """One database transaction of the node; every method is one storage function."""

    def __init__(self, conn: Connection, writing: bool = True) -> None:
        self.conn = conn
        self._locking = writing and conn.dialect.name == "postgresql"  # reads never lock rows
        self._mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"

    def _insert_many(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """executemany at the driver: the bulk path skips per-row parameter processing, so
        rows must hold plain driver values (str, int, bool, bytes, None) in column order."""
        marks = ",".join([self._mark] * len(columns))
        self.conn.exec_driver_sql(f"INSERT INTO {table} ({','.join(columns)}) VALUES ({marks})", list(rows))

    # -- the log --------------------------------------------------------------------------

    def tail(self, origin: str, stream: str) -> tuple[int, bytes]:
        """(seq, hash) of the stream's last entry, locked until commit; (0, GENESIS) if empty."""
        q = select(T_TAILS.c.seq, T_TAILS.c.hash).where(T_TAILS.c.origin == origin, T_TAILS.c.stream == stream)
        if self._locking:
            q = q.with_for_update()
        row = self.conn.execute(q).first()
        return (0, GENESIS) if row is None else (row.seq, bytes(row.hash))

    def ensure_streams(self, origin: str, streams: Iterable[str]) -> None:
        """Create empty tails (seq 0) so that every append locks an existing row: two writers
        making a stream's first append then queue on the row instead of both inserting it."""
        for stream in streams:
            if (
                self.conn.execute(
                    select(T_TAILS.c.seq).where(T_TAILS.c.origin == origin, T_TAILS.c.stream == stream)
                ).first()
                is None
            ):
                self.conn.execute(insert(T_TAILS), {"origin": origin, "stream": stream, "seq": 0, "hash": GENESIS})

    def append_entries(self, entries: Sequence[Entry], prev_seq: int) -> None:
        """Insert a run of consecutive entries of one stream and move its tail from `prev_seq`
        (the tail row must exist: see ensure_streams)."""
        if not entries:
            return
        self._insert_many("entries", ENTRY_COLUMNS, held_rows(entries))
        last = entries[-1]
        moved = self.conn.execute(
            update(T_TAILS)
            .where(T_TAILS.c.origin == last.origin, T_TAILS.c.stream == last.stream, T_TAILS.c.seq == prev_seq)
            .values(seq=last.seq, hash=last.hash)
        ).rowcount
        if moved != 1:
            raise InternalError(f"stream {last.origin}/{last.stream} did not stand at seq {prev_seq}: was it locked?")

    def tails(self) -> dict[tuple[str, str], tuple[int, bytes]]:
        """(origin, stream) -> (seq, hash) of every stream held; never locks."""
        return {(r.origin, r.stream): (r.seq, bytes(r.hash)) for r in self.conn.execute(select(T_TAILS)).all()}

    def lock_tails(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, bytes]]:
        """The tails of these streams, locked until commit on PostgreSQL one by one in key order,
        so two writers never wait for each other crosswise (a deadlock). Streams not held yet
        are absent: their first rows are inserted by this transaction."""
        out = {}
        for origin, stream in sorted(set(keys)):
            q = select(T_TAILS.c.seq, T_TAILS.c.hash).where(T_TAILS.c.origin == origin, T_TAILS.c.stream == stream)
            row = self.conn.execute(q.with_for_update() if self._locking else q).first()
            if row is not None:
                out[(origin, stream)] = (row.seq, bytes(row.hash))
        return out

    def append_remote(
        self, entries: Sequence[Entry], tails_before: Mapping[tuple[str, str], tuple[int, bytes]]
    ) -> None:
        """Store verified entries of other origins and move (or create) their tails."""
        if not entries:
            return
        self._insert_many("entries", ENTRY_COLUMNS, held_rows(entries))
        last: dict[tuple[str, str], Entry] = {}
        for e in entries:
            last[(e.origin, e.stream)] = e
        for key, e in last.items():
            if key in tails_before:
                self.conn.execute(
                    update(T_TAILS)
                    .where(T_TAILS.c.origin == e.origin, T_TAILS.c.stream == e.stream)
                    .values(seq=e.seq, hash=e.hash)
                )
            else:
                self.conn.execute(
                    insert(T_TAILS), {"origin": e.origin, "stream": e.stream, "seq": e.seq, "hash": e.hash}
                )

    def put_heads(self, heads: Sequence[Head]) -> None:
        """Store relayed heads as received; a head already held is skipped."""
        for h in heads:
            exists = self.conn.execute(
                select(T_HEADS.c.seq).where(
                    T_HEADS.c.origin == h.origin, T_HEADS.c.stream == h.stream, T_HEADS.c.seq == h.seq
                )
            ).first()
            if exists is None:
                self.put_head(h)

    def head_seqs(self, origin: str, stream: str, after: int) -> list[int]:
        return list(
            self.conn.execute(
                select(T_HEADS.c.seq)
                .where(T_HEADS.c.origin == origin, T_HEADS.c.stream == stream, T_HEADS.c.seq > after)
                .order_by(T_HEADS.c.seq)
            ).scalars()
        )

    def head_at(self, origin: str, stream: str, seq: int) -> Head | None:
        row = self.conn.execute(
            select(T_HEADS).where(T_HEADS.c.origin == origin, T_HEADS.c.stream == stream, T_HEADS.c.seq == seq)
        ).first()
        return None if row is None else _head(row)

    def entries_between(self, origin: str, stream: str, after: int, last: int) -> list[Entry]:
        """Entries after..last of one stream, in order."""
        rows = self.conn.execute(
            select(*_ENTRY_READ)
            .where(
                T_ENTRIES.c.origin == origin,
                T_ENTRIES.c.stream == stream,
                T_ENTRIES.c.seq > after,
                T_ENTRIES.c.seq <= last,
            )
            .order_by(T_ENTRIES.c.seq)
        ).all()
        return [entry_from_row(r) for r in rows]

    def put_head(self, head: Head) -> None:
        self.conn.execute(insert(T_HEADS), asdict(head))

    def put_origin_key(self, origin: str, key_id: bytes, pem: bytes) -> None:
        if self.conn.execute(select(T_KEYS.c.key_id).where(T_KEYS.c.key_id == key_id)).first() is None:
            self.conn.execute(insert(T_KEYS), {"key_id": key_id, "origin": origin, "public_key_pem": pem})

    def origin_keys(self, key_ids: Iterable[bytes] | None = None) -> dict[bytes, tuple[str, bytes]]:
        """key id -> (origin, public key PEM): all of them, or only `key_ids`."""
        q = select(T_KEYS)
        if key_ids is not None:
            q = q.where(T_KEYS.c.key_id.in_(list(key_ids)))
        rows = self.conn.execute(q).all()
        return {bytes(r.key_id): (r.origin, bytes(r.public_key_pem)) for r in rows}

    def streams(self) -> list[tuple[str, str, int, bytes]]:
        rows = self.conn.execute(select(T_TAILS).order_by(T_TAILS.c.origin, T_TAILS.c.stream)).all()
        return [(r.origin, r.stream, r.seq, bytes(r.hash)) for r in rows]

    def entries(self, origin: str, stream: str, after: int = 0, chunk: int = 5000) -> Iterator[Entry]:
        """Entries of one stream in seq order, read in chunks."""
        last = after
        while True:
            rows = self.conn.execute(
                select(*_ENTRY_READ)
                .where(T_ENTRIES.c.origin == origin, T_ENTRIES.c.stream == stream, T_ENTRIES.c.seq > last)
                .order_by(T_ENTRIES.c.seq)
                .limit(chunk)
            ).all()
            if not rows:
                return
            for r in rows:
                yield entry_from_row(r)
            last = rows[-1].seq

    def entries_about(self, subject: str) -> list[Entry]:
        rows = self.conn.execute(
            select(*_ENTRY_READ)
            .where(T_ENTRIES.c.subject == subject)
            .order_by(T_ENTRIES.c.recorded_at_us, T_ENTRIES.c.seq)
        ).all()
        return [entry_from_row(r) for r in rows]

    def latest_head(self, origin: str, stream: str) -> Head | None:
        row = self.conn.execute(
            select(T_HEADS)
            .where(T_HEADS.c.origin == origin, T_HEADS.c.stream == stream)
            .order_by(T_HEADS.c.seq.desc())
            .limit(1)
        ).first()
        return None if row is None else _head(row)

    def heads(self, origin: str, stream: str) -> list[Head]:
        rows = self.conn.execute(
            select(T_HEADS).where(T_HEADS.c.origin == origin, T_HEADS.c.stream == stream).order_by(T_HEADS.c.seq)
        ).all()
        return [_head(r) for r in rows]

    # -- catalog --------------------------------------------------------------------------

    def items(self, codes: Iterable[str]) -> dict[str, CatalogItem]:
        wanted = list(set(codes))
        out: dict[str, CatalogItem] = {}
        for i in range(0, len(wanted), 500):
            rows = self.conn.execute(
                select(T_ITEMS).where(T_ITEMS.c.implementation_code.in_(wanted[i : i + 500]))
            ).all()
            out.update({r.implementation_code: item_from_row(r) for r in rows})
        return out

    def items_with_origin(self, basic_codes: Iterable[str]) -> list[tuple[CatalogItem, str]]:
        wanted = list(set(basic_codes))
        out: list[tuple[CatalogItem, str]] = []
        for i in range(0, len(wanted), 500):
            rows = self.conn.execute(select(T_ITEMS).where(T_ITEMS.c.basic_code.in_(wanted[i : i + 500]))).all()
            out.extend((item_from_row(r), r.origin) for r in rows)
        return out

    def relay_cursors(self) -> dict[tuple[str, str], int]:
        """How far the event-bus relay has published each stream."""
        rows = self.conn.execute(select(T_META).where(T_META.c.key.startswith("relay:"))).all()
        out = {}
        for r in rows:
            _, origin, stream = r.key.split(":")
            out[(origin, stream)] = int(r.value)
        return out

    def set_relay_cursor(self, origin: str, stream: str, seq: int) -> None:
        key = f"relay:{origin}:{stream}"
        if self.conn.execute(select(T_META.c.key).where(T_META.c.key == key)).first() is None:
            self.conn.execute(insert(T_META), {"key": key, "value": seq})
        else:
            self.conn.execute(update(T_META).where(T_META.c.key == key).values(value=seq))

    def catalog_version(self) -> int:
        value = self.conn.execute(select(T_META.c.value).where(T_META.c.key == "catalog_version")).scalar()
        return int(value or 0)

    def put_items(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert or replace catalog rows (a re-published item replaces its older version; of
        one item given twice the later row counts) and move the catalog version."""
        if not rows:
            return
        rows = list({r["implementation_code"]: r for r in rows}.values())
        version = self.catalog_version()
        if version == 0:
            self.conn.execute(insert(T_META), {"key": "catalog_version", "value": 1})
        else:
            self.conn.execute(update(T_META).where(T_META.c.key == "catalog_version").values(value=version + 1))
        codes = [r["implementation_code"] for r in rows]
        existing: set[str] = set()
        for i in range(0, len(codes), 500):
            existing.update(
                self.conn.execute(
                    select(T_ITEMS.c.implementation_code).where(T_ITEMS.c.implementation_code.in_(codes[i : i + 500]))
                ).scalars()
            )
        new = [r for r in rows if r["implementation_code"] not in existing]
        old = [r for r in rows if r["implementation_code"] in existing]
        if new:
            self.conn.execute(insert(T_ITEMS), new)
        if old:
            self.conn.execute(
                update(T_ITEMS).where(T_ITEMS.c.implementation_code == bindparam("b_code")),
                [
                    {**{k: v for k, v in r.items() if k != "implementation_code"}, "b_code": r["implementation_code"]}
                    for r in old
                ],
            )

    def list_items(self, query: str = "", limit: int = 50, after: str = "") -> list[CatalogItem]:
        q = select(T_ITEMS).order_by(T_ITEMS.c.implementation_code).limit(limit)
        if query:
            q = q.where(T_ITEMS.c.name.contains(query) | T_ITEMS.c.department.contains(query))
        if after:
            q = q.where(T_ITEMS.c.implementation_code > after)
        return [item_from_row(r) for r in self.conn.execute(q).all()]

    # -- calendars ------------------------------------------------------------------------

    def put_calendar(self, year: CalendarYear, origin: str, seq: int) -> None:
        row = {
            "holidays": sorted(d.isoformat() for d in year.holidays),
            "workdays": sorted(d.isoformat() for d in year.workdays),
            "source": year.source,
            "origin": origin,
            "seq": seq,
        }
        if self.conn.execute(select(T_CALENDARS.c.year).where(T_CALENDARS.c.year == year.year)).first():
            self.conn.execute(update(T_CALENDARS).where(T_CALENDARS.c.year == year.year).values(**row))
        else:
            self.conn.execute(insert(T_CALENDARS), {"year": year.year, **row})

    def calendars(self) -> dict[int, CalendarYear]:
        return {
            r.year: CalendarYear(
                r.year,
                frozenset(dt.date.fromisoformat(d) for d in r.holidays),
                frozenset(dt.date.fromisoformat(d) for d in r.workdays),
                r.source,
            )
            for r in self.conn.execute(select(T_CALENDARS)).all()
        }

    # -- cases ----------------------------------------------------------------------------

    def cases(self, case_nos: Iterable[str]) -> dict[str, CaseState]:
        return {no: c.state for no, c in self.stored_cases(case_nos).items()}

    def stored_cases(self, case_nos: Iterable[str]) -> dict[str, StoredCase]:
        wanted = list(set(case_nos))
        out: dict[str, StoredCase] = {}
        for i in range(0, len(wanted), 500):
            rows = self.conn.execute(select(T_CASES).where(T_CASES.c.case_no.in_(wanted[i : i + 500]))).all()
            out.update({r.case_no: StoredCase(case_from_row(r), r.due_date, bool(r.due_provisional)) for r in rows})
        return out

    def case_rows(self, case_nos: Sequence[str]) -> list[Any]:
        return list(self.conn.execute(select(T_CASES).where(T_CASES.c.case_no.in_(list(case_nos)))).all())

    def insert_cases(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert case rows made by `case_row`."""
        if rows:
            self._insert_many("cases", CASE_COLUMNS, rows)

    def case_backlog(self, case_nos: Sequence[str]) -> list[Entry]:
        """Waiting entries of these cases."""
        c = T_BACKLOG.c
        out: list[Entry] = []
        for i in range(0, len(case_nos), 500):
            rows = self.conn.execute(select(T_BACKLOG).where(c.case_no.in_(case_nos[i : i + 500])))
            out.extend(entry_from_row(r) for r in rows)
        return out

    def park_case_entries(self, waiting: Sequence[tuple[Entry, str, int]]) -> None:
        """Keep entries that wait for an earlier entry of their case (each once)."""
        known = {(e.origin, e.stream, e.seq) for e in self.case_backlog(sorted({no for _, no, _ in waiting}))}
        rows = [
            {**e._asdict(), "case_no": no, "version": v}
            for e, no, v in waiting
            if (e.origin, e.stream, e.seq) not in known
        ]
        if rows:
            self.conn.execute(insert(T_BACKLOG), rows)

    def unpark_case_entries(self, keys: Sequence[tuple[str, str, int]]) -> None:
        c = T_BACKLOG.c
        for origin, stream, seq in keys:
            self.conn.execute(delete(T_BACKLOG).where(c.origin == origin, c.stream == stream, c.seq == seq))

    def update_cases(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Replace the derived state of existing cases from rows made by `case_row` (the sealed
        bundle hash is kept)."""
        if not rows:
            return
        sets = ",".join(f"{c}={self._mark}" for c in CASE_UPDATE_COLUMNS)
        self.conn.exec_driver_sql(
            f"UPDATE cases SET {sets} WHERE case_no={self._mark}",
            [(*r[1:_BUNDLE_AT], *r[_BUNDLE_AT + 1 :], r[0]) for r in rows],
        )

    def list_cases(self, status: str = "", limit: int = 50, after: str = "", open_only: bool = False) -> list[Any]:
        q = select(T_CASES).order_by(T_CASES.c.case_no).limit(limit)
        if status:
            q = q.where(T_CASES.c.status == status)
        if after:
            q = q.where(T_CASES.c.case_no > after)
        if open_only:
            q = q.where(T_CASES.c.closed_at_us.is_(None))
        return list(self.conn.execute(q).all())

    def open_cases_with_due_from(self, first_day: str) -> list[Any]:
        """Open cases whose due date is provisional or on/after `first_day` (ISO)."""
        return list(
            self.conn.execute(
                select(T_CASES).where(
                    T_CASES.c.closed_at_us.is_(None),
                    T_CASES.c.decided_at_us.is_(None),
                    T_CASES.c.due_date != "",
                    (T_CASES.c.due_provisional.is_(True)) | (T_CASES.c.due_date >= first_day),
                )
            ).all()
        )

    def set_due(self, rows: Sequence[tuple[str, str, bool]]) -> None:
        if rows:
            self.conn.execute(
                update(T_CASES)
                .where(T_CASES.c.case_no == bindparam("b_case_no"))
                .values(due_date=bindparam("d"), due_provisional=bindparam("p")),
                [{"b_case_no": c, "d": d, "p": p} for c, d, p in rows],
            )

    def last_case_no(self, prefix: str) -> str | None:
        """The highest case number starting with `prefix` (digits follow it), by key range."""
        value = self.conn.execute(
            select(func.max(T_CASES.c.case_no)).where(T_CASES.c.case_no >= prefix, T_CASES.c.case_no < prefix + ":")
        ).scalar_one()
        return None if value is None else str(value)

    def put_bundles(self, rows: Sequence[tuple[bytes, str, bytes]]) -> None:
        """Sealed bundles as (hash, case_no, sealed)."""
        if rows:
            self._insert_many("sealed_bundles", ("hash", "case_no", "sealed"), rows)

    def put_license(self, license_no: str, case_no: str, issuer: str, signed: bytes, at_us: int) -> None:
        if self.license(license_no) is None:
            row = {"license_no": license_no, "case_no": case_no, "issuer": issuer, "signed": signed}
            self.conn.execute(insert(T_LICENSES), {**row, "stored_at_us": at_us})

    def license(self, license_no: str) -> bytes | None:
        row = self.conn.execute(select(T_LICENSES.c.signed).where(T_LICENSES.c.license_no == license_no)).first()
        return None if row is None else bytes(row.signed)

    def licenses(self, limit: int = 50) -> list[Any]:
        c = T_LICENSES.c
        q = select(c.license_no, c.case_no, c.issuer, c.stored_at_us).order_by(c.stored_at_us.desc()).limit(limit)
        return list(self.conn.execute(q).all())

    def held_materials(self, digests: Sequence[str]) -> set[str]:
        c = T_MATERIALS.c
        return set(self.conn.execute(select(c.digest).where(c.digest.in_(list(digests)))).scalars())

    def put_materials(self, rows: Sequence[tuple[str, int, bytes]]) -> None:
        """Sealed material files as (digest, size, sealed)."""
        if rows:
            self.conn.execute(insert(T_MATERIALS), [{"digest": d, "size": n, "sealed": s} for d, n, s in rows])

    def material(self, digest: str) -> bytes | None:
        row = self.conn.execute(select(T_MATERIALS.c.sealed).where(T_MATERIALS.c.digest == digest)).first()
        return None if row is None else bytes(row.sealed)

    def put_chunk(self, sealed_hash: bytes, idx: int, count: int, digest: str, data: bytes) -> list[bytes] | None:
        """Keep one chunk; when all `count` chunks are here, return them in order (and drop them)."""
        c = T_CHUNKS.c
        key = (c.sealed_hash == sealed_hash, c.idx == idx)
        if self.conn.execute(select(c.idx).where(*key)).first() is None:
            row = {"sealed_hash": sealed_hash, "idx": idx, "count": count, "digest": digest, "data": data}
            self.conn.execute(insert(T_CHUNKS), row)
        rows = self.conn.execute(select(c.idx, c.data).where(c.sealed_hash == sealed_hash).order_by(c.idx)).all()
        if len(rows) < count:
            return None
        self.conn.execute(delete(T_CHUNKS).where(c.sealed_hash == sealed_hash))
        return [bytes(r.data) for r in rows]

    def set_case_bundle(self, case_no: str, hash_: bytes) -> None:
        """The sealed bundle this node opens for the case (re-sealed for it on a custody move)."""
        self.conn.execute(update(T_CASES).where(T_CASES.c.case_no == case_no).values(sealed_bundle_hash=hash_))

    def bundle(self, hash_: bytes) -> bytes | None:
        row = self.conn.execute(select(T_BUNDLES.c.sealed).where(T_BUNDLES.c.hash == hash_)).first()
        return None if row is None else bytes(row.sealed)

    # -- rebuilding -----------------------------------------------------------------------

    def clear(self, tables: Iterable[Table]) -> None:
        """Empty tables (the derived ones, before a rebuild)."""
        for table in tables:
            self.conn.execute(delete(table))

    def all_entries(self) -> list[tuple[int, Entry]]:
        """Every entry this node holds with the time it stored it (0 before revision 0002)."""
        return [(r.held_ns or 0, entry_from_row(r)) for r in self.conn.execute(select(*_ENTRY_READ)).all()]

    def rows_of(self, table: Table) -> list[tuple[Any, ...]]:
        """Every row of a table in primary-key order, JSON values as canonical text, to compare
        two states of it."""
        key = list(table.primary_key.columns)
        rows = self.conn.execute(select(table).order_by(*key)).all()
        return [tuple(_comparable(v) for v in r) for r in rows]

    # -- bookkeeping ----------------------------------------------------------------------

    def row_counts(self) -> dict[str, int]:
        return {t.name: int(self.conn.execute(select(func.count()).select_from(t)).scalar_one()) for t in ALL_TABLES}


class Store:
    """The node's database; `transaction()` is the only way in."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """Commit when the block ends normally, roll back (writing nothing) when it raises."""
        with self.engine.begin() as conn:
            yield Tx(conn)

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """A read-only transaction: a consistent snapshot that takes no row locks, so it never
        blocks a writer nor waits for one."""
        with self.engine.connect() as conn:
            conn.execution_options(yiwang_read=True)
            with conn.begin():
                yield Tx(conn, writing=False)

    def retrying(self, work: Callable[[], T], attempts: int = 8) -> T:
        """Run `work` (which opens its own transactions) again when the database aborted it for
        a reason that passes: a deadlock or serialization failure on PostgreSQL, a busy SQLite
        file. Nothing of an aborted attempt was committed. Other errors pass through."""
        for attempt in range(attempts):
            try:
                return work()
            except DBAPIError as exc:
                if attempt + 1 == attempts or not transient(exc):
                    raise
                log.warning("transaction_retried", attempt=attempt + 1, error=type(exc.orig).__name__)
                time.sleep(min(1.0, 0.01 * 2**attempt) * random.uniform(0.5, 1.5))
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.engine.dispose()
