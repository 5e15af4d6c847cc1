"""Storage functions for cases (derived: written by the projection) and what stays beside
them at the nodes that handle them: sealed bundles, material files and chunks, licences; with
the case mappers. Mixed into node.store.repo.Tx."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import (
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)

from node.domain.entries import Entry
from node.domain.joint_review import JointReview
from node.domain.lifecycle import CaseState, Status
from node.domain.timelimits import ClockStop
from node.store.base import DbRow, TxBase, Value, _at, _dt, _us
from node.store.log import entry_from_row
from node.store.tables import CASE_BACKLOG, CASES, CLIENT_REQUESTS

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
    if not (s.missing_materials or s.requested_materials or s.stops or s.offer_answer_by or s.review):
        return ""
    stops = [[c.kind, c.start.isoformat(), c.end.isoformat() if c.end else None, c.limit_days] for c in s.stops]
    data: dict[str, object] = {"missing": list(s.missing_materials), "requested": list(s.requested_materials)}
    data["stops"] = stops
    if s.offer_answer_by:
        data["answer_by"] = s.offer_answer_by
    if s.review is not None:
        data["review"] = s.review.to_dict()
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def case_row(
    s: CaseState, seq: int, due_date: str, due_provisional: bool, bundle_hash: bytes = b""
) -> tuple[Value, ...]:
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


def case_from_row(r: DbRow) -> CaseState:
    """A CaseState from a row of `select(CASES)` (columns in CASE_COLUMNS order)."""
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
    ) = tuple(r)
    missing: tuple[str, ...] = ()
    requested: tuple[str, ...] = ()
    stops: tuple[ClockStop, ...] = ()
    answer_by = ""
    review = None
    if extras:
        data = json.loads(extras)
        answer_by = data.get("answer_by", "")
        review = JointReview.from_dict(data["review"]) if "review" in data else None
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
        answer_by,
        review,
    )


class CasesTx(TxBase):
    # -- cases ----------------------------------------------------------------------------

    def cases(self, case_nos: Iterable[str]) -> dict[str, CaseState]:
        return {no: c.state for no, c in self.stored_cases(case_nos).items()}

    def stored_cases(self, case_nos: Iterable[str]) -> dict[str, StoredCase]:
        wanted = list(set(case_nos))
        out: dict[str, StoredCase] = {}
        for i in range(0, len(wanted), 500):
            rows = self.conn.execute(select(CASES).where(CASES.c.case_no.in_(wanted[i : i + 500]))).all()
            out.update({r.case_no: StoredCase(case_from_row(r), r.due_date, bool(r.due_provisional)) for r in rows})
        return out

    def case_bundle_hash(self, case_no: str) -> bytes | None:
        """The hash of the case's sealed bundle (b"" where none is recorded); None: no such case."""
        q = select(CASES.c.sealed_bundle_hash).where(CASES.c.case_no == case_no)
        value = self.conn.execute(q).scalar_one_or_none()
        return None if value is None else bytes(value)

    def insert_cases(self, rows: Sequence[tuple[Value, ...]]) -> None:
        """Insert case rows made by `case_row`."""
        if rows:
            self._insert_many("cases", CASE_COLUMNS, rows)

    def case_backlog(self, case_nos: Sequence[str]) -> list[Entry]:
        """Waiting entries of these cases."""
        c = CASE_BACKLOG.c
        out: list[Entry] = []
        for i in range(0, len(case_nos), 500):
            rows = self.conn.execute(select(CASE_BACKLOG).where(c.case_no.in_(case_nos[i : i + 500])))
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
            self.conn.execute(insert(CASE_BACKLOG), rows)

    def unpark_case_entries(self, keys: Sequence[tuple[str, str, int]]) -> None:
        c = CASE_BACKLOG.c
        for origin, stream, seq in keys:
            self.conn.execute(delete(CASE_BACKLOG).where(c.origin == origin, c.stream == stream, c.seq == seq))

    def update_cases(self, rows: Sequence[tuple[Value, ...]]) -> None:
        """Replace the derived state of existing cases from rows made by `case_row` (the sealed
        bundle hash is kept)."""
        if not rows:
            return
        sets = ",".join(f"{c}={self._mark}" for c in CASE_UPDATE_COLUMNS)
        self.conn.exec_driver_sql(
            f"UPDATE cases SET {sets} WHERE case_no={self._mark}",
            [(*r[1:_BUNDLE_AT], *r[_BUNDLE_AT + 1 :], r[0]) for r in rows],
        )

    def list_cases(
        self,
        status: str = "",
        limit: int = 50,
        after: str = "",
        open_only: bool = False,
        due_before: str = "",
        running: Sequence[str] = (),
    ) -> list[StoredCase]:
        """Cases by number; `due_before`: only those in `running` statuses due before that day."""
        q = select(CASES).order_by(CASES.c.case_no).limit(limit)
        if due_before:
            c = CASES.c
            q = q.where(c.status.in_(list(running)), c.due_date > "", c.due_date < due_before)
        if status:
            q = q.where(CASES.c.status == status)
        if after:
            q = q.where(CASES.c.case_no > after)
        if open_only:
            q = q.where(CASES.c.closed_at_us.is_(None))
        return [StoredCase(case_from_row(r), r.due_date, bool(r.due_provisional)) for r in self.conn.execute(q)]

    def held_open_cases(self, custodian: str, limit: int, after: str = "") -> list[StoredCase]:
        """Open cases `custodian` holds, by case number after `after` (what its supervision
        scans, page by page)."""
        c = CASES.c
        q = (
            select(CASES)
            .where(c.custodian == custodian, c.closed_at_us.is_(None), c.case_no > after)
            .order_by(c.case_no)
            .limit(limit)
        )
        return [StoredCase(case_from_row(r), r.due_date, bool(r.due_provisional)) for r in self.conn.execute(q)]

    def open_cases_with_due_from(self, first_day: str) -> list[CaseState]:
        """Open cases whose due date is provisional or on/after `first_day` (ISO)."""
        return [
            case_from_row(r)
            for r in self.conn.execute(
                select(CASES).where(
                    CASES.c.closed_at_us.is_(None),
                    CASES.c.decided_at_us.is_(None),
                    CASES.c.due_date != "",
                    (CASES.c.due_provisional.is_(True)) | (CASES.c.due_date >= first_day),
                )
            )
        ]

    def count_overdue(self, prefix: str, today: str) -> int:
        """Undecided open cases handled under `prefix` whose due date is before `today` (ISO)."""
        c = CASES.c
        q = select(func.count()).where(
            c.closed_at_us.is_(None),
            c.decided_at_us.is_(None),
            c.due_date != "",
            c.due_date < today,
            c.handling_division.startswith(prefix, autoescape=True),
        )
        return int(self.conn.execute(q).scalar() or 0)

    def set_due(self, rows: Sequence[tuple[str, str, bool]]) -> None:
        if rows:
            self.conn.execute(
                update(CASES)
                .where(CASES.c.case_no == bindparam("b_case_no"))
                .values(due_date=bindparam("d"), due_provisional=bindparam("p")),
                [{"b_case_no": c, "d": d, "p": p} for c, d, p in rows],
            )

    def last_case_no(self, prefix: str) -> str | None:
        """The highest case number starting with `prefix` (digits follow it), by key range."""
        value = self.conn.execute(
            select(func.max(CASES.c.case_no)).where(CASES.c.case_no >= prefix, CASES.c.case_no < prefix + ":")
        ).scalar_one()
        return None if value is None else str(value)

    def set_case_bundle(self, case_no: str, hash_: bytes) -> None:
        """The sealed bundle this node opens for the case (re-sealed for it on a custody move)."""
        self.conn.execute(update(CASES).where(CASES.c.case_no == case_no).values(sealed_bundle_hash=hash_))

    # -- client request ids ---------------------------------------------------------------

    def client_request(self, request_id: str) -> tuple[str, bytes, str] | None:
        """(rpc, digest, case_no) of a request a client named with `request_id` before."""
        c = CLIENT_REQUESTS.c
        row = self.conn.execute(select(c.rpc, c.digest, c.case_no).where(c.request_id == request_id)).first()
        return None if row is None else (row.rpc, bytes(row.digest), row.case_no)

    def put_client_request(self, request_id: str, rpc: str, digest: bytes, case_no: str, at_us: int) -> None:
        row = {"request_id": request_id, "rpc": rpc, "digest": digest, "case_no": case_no, "at_us": at_us}
        self.conn.execute(insert(CLIENT_REQUESTS), row)
