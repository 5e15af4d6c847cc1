"""Storage functions for the log: entries, stream tails, signed heads and origin keys, with
their mappers. The log is the truth; everything else a node stores is derived from it or kept
beside it. Mixed into node.store.repo.Tx."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict

from sqlalchemy import (
    LargeBinary,
    cast,
    delete,
    insert,
    select,
    update,
)

from federation.wire.codec import entry_wire
from node.domain.entries import GENESIS, Entry, Head
from node.domain.errors import InternalError
from node.store.base import DbRow, TxBase, Value
from node.store.tables import (
    ENTRIES,
    HEADS,
    NODE_META,
    ORIGIN_KEYS,
    STREAM_TAILS,
)

BEHIND = "behind:"  # node_meta keys: an own stream the parent holds further, and up to where


ENTRY_COLUMNS = (*Entry._fields, "held_ns")  # the columns every stored entry fills, in order
RELAYED_COLUMNS = (*ENTRY_COLUMNS, "wire")  # and a relayed entry's received bytes


def held_rows(entries: Sequence[Entry]) -> list[tuple[Value, ...]]:
    """Entries as stored rows: each with the time (ns) this node stored it, increasing."""
    now = time.time_ns()
    return [(*e, now + i) for i, e in enumerate(entries)]


def relayed_rows(entries: Sequence[Entry], wires: Sequence[bytes]) -> list[tuple[Value, ...]]:
    now = time.time_ns()
    return [(*e, now + i, w) for i, (e, w) in enumerate(zip(entries, wires, strict=True))]


# Entry columns for reading. Byte columns go through CAST(... AS BLOB), so a value tampered
# into another SQL type is still read (and then fails verification) instead of breaking the reader.
_ENTRY_READ = [
    cast(col, LargeBinary).label(col.name) if col.name in ("prev_hash", "body", "hash") else col
    for col in ENTRIES.columns
    if col.name != "wire"
]


def entry_from_row(r: DbRow) -> Entry:
    return Entry(
        r.origin, r.stream, r.seq, bytes(r.prev_hash), r.kind, bytes(r.body), bytes(r.hash), r.subject, r.recorded_at_us
    )


def _head(r: DbRow) -> Head:
    return Head(r.origin, r.stream, r.seq, bytes(r.hash), r.signed_at_us, r.alg, bytes(r.key_id), bytes(r.signature))


class LogTx(TxBase):
    # -- the log --------------------------------------------------------------------------

    def tail(self, origin: str, stream: str) -> tuple[int, bytes]:
        """(seq, hash) of the stream's last entry, locked until commit; (0, GENESIS) if empty."""
        q = select(STREAM_TAILS.c.seq, STREAM_TAILS.c.hash).where(
            STREAM_TAILS.c.origin == origin, STREAM_TAILS.c.stream == stream
        )
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
                    select(STREAM_TAILS.c.seq).where(STREAM_TAILS.c.origin == origin, STREAM_TAILS.c.stream == stream)
                ).first()
                is None
            ):
                self.conn.execute(insert(STREAM_TAILS), {"origin": origin, "stream": stream, "seq": 0, "hash": GENESIS})

    def append_entries(self, entries: Sequence[Entry], prev_seq: int) -> None:
        """Insert a run of consecutive entries of one stream and move its tail from `prev_seq`
        (the tail row must exist: see ensure_streams)."""
        if not entries:
            return
        self._insert_many("entries", ENTRY_COLUMNS, held_rows(entries))
        last = entries[-1]
        moved = self.conn.execute(
            update(STREAM_TAILS)
            .where(
                STREAM_TAILS.c.origin == last.origin,
                STREAM_TAILS.c.stream == last.stream,
                STREAM_TAILS.c.seq == prev_seq,
            )
            .values(seq=last.seq, hash=last.hash)
        ).rowcount
        if moved != 1:
            raise InternalError(f"stream {last.origin}/{last.stream} did not stand at seq {prev_seq}: was it locked?")

    def tails(self) -> dict[tuple[str, str], tuple[int, bytes]]:
        """(origin, stream) -> (seq, hash) of every stream held; never locks."""
        return {(r.origin, r.stream): (r.seq, bytes(r.hash)) for r in self.conn.execute(select(STREAM_TAILS)).all()}

    def lock_tails(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, bytes]]:
        """The tails of these streams, locked until commit on PostgreSQL one by one in key order,
        so two writers never wait for each other crosswise (a deadlock). Streams not held yet
        are absent: their first rows are inserted by this transaction."""
        out = {}
        for origin, stream in sorted(set(keys)):
            q = select(STREAM_TAILS.c.seq, STREAM_TAILS.c.hash).where(
                STREAM_TAILS.c.origin == origin, STREAM_TAILS.c.stream == stream
            )
            row = self.conn.execute(q.with_for_update() if self._locking else q).first()
            if row is not None:
                out[(origin, stream)] = (row.seq, bytes(row.hash))
        return out

    def append_remote(
        self,
        entries: Sequence[Entry],
        tails_before: Mapping[tuple[str, str], tuple[int, bytes]],
        wires: Sequence[bytes] | None = None,
    ) -> None:
        """Store verified entries of other origins, with the exact bytes each arrived in
        (`wires`, aligned with `entries`) where given, and move (or create) their tails."""
        if not entries:
            return
        if wires is None:
            self._insert_many("entries", ENTRY_COLUMNS, held_rows(entries))
        else:
            self._insert_many("entries", RELAYED_COLUMNS, relayed_rows(entries, wires))
        last: dict[tuple[str, str], Entry] = {}
        for e in entries:
            last[(e.origin, e.stream)] = e
        for key, e in last.items():
            if key in tails_before:
                self.conn.execute(
                    update(STREAM_TAILS)
                    .where(STREAM_TAILS.c.origin == e.origin, STREAM_TAILS.c.stream == e.stream)
                    .values(seq=e.seq, hash=e.hash)
                )
            else:
                self.conn.execute(
                    insert(STREAM_TAILS), {"origin": e.origin, "stream": e.stream, "seq": e.seq, "hash": e.hash}
                )

    def put_heads(self, heads: Sequence[Head]) -> None:
        """Store relayed heads as received; a head already held is skipped."""
        for h in heads:
            exists = self.conn.execute(
                select(HEADS.c.seq).where(HEADS.c.origin == h.origin, HEADS.c.stream == h.stream, HEADS.c.seq == h.seq)
            ).first()
            if exists is None:
                self.put_head(h)

    def head_seqs(self, origin: str, stream: str, after: int) -> list[int]:
        return list(
            self.conn.execute(
                select(HEADS.c.seq)
                .where(HEADS.c.origin == origin, HEADS.c.stream == stream, HEADS.c.seq > after)
                .order_by(HEADS.c.seq)
            ).scalars()
        )

    def head_at(self, origin: str, stream: str, seq: int) -> Head | None:
        row = self.conn.execute(
            select(HEADS).where(HEADS.c.origin == origin, HEADS.c.stream == stream, HEADS.c.seq == seq)
        ).first()
        return None if row is None else _head(row)

    def entries_between(self, origin: str, stream: str, after: int, last: int) -> list[Entry]:
        """Entries after..last of one stream, in order."""
        rows = self.conn.execute(
            select(*_ENTRY_READ)
            .where(
                ENTRIES.c.origin == origin,
                ENTRIES.c.stream == stream,
                ENTRIES.c.seq > after,
                ENTRIES.c.seq <= last,
            )
            .order_by(ENTRIES.c.seq)
        ).all()
        return [entry_from_row(r) for r in rows]

    def entry_wires_between(self, origin: str, stream: str, after: int, last: int) -> list[bytes]:
        """The serialized log entries after..last of one stream, in order, to send: the bytes a
        relayed entry arrived in, as they are; an entry without them (this node's own) encoded."""
        c = ENTRIES.c
        q = (
            select(c.wire, *_ENTRY_READ)
            .where(c.origin == origin, c.stream == stream, c.seq > after, c.seq <= last)
            .order_by(c.seq)
        )
        return [bytes(r.wire) if r.wire is not None else entry_wire(entry_from_row(r)) for r in self.conn.execute(q)]

    def put_head(self, head: Head) -> None:
        self.conn.execute(insert(HEADS), asdict(head))

    def put_origin_key(self, origin: str, key_id: bytes, pem: bytes) -> None:
        if self.conn.execute(select(ORIGIN_KEYS.c.key_id).where(ORIGIN_KEYS.c.key_id == key_id)).first() is None:
            self.conn.execute(insert(ORIGIN_KEYS), {"key_id": key_id, "origin": origin, "public_key_pem": pem})

    def origin_keys(self, key_ids: Iterable[bytes] | None = None) -> dict[bytes, tuple[str, bytes]]:
        """key id -> (origin, public key PEM): all of them, or only `key_ids`."""
        q = select(ORIGIN_KEYS)
        if key_ids is not None:
            q = q.where(ORIGIN_KEYS.c.key_id.in_(list(key_ids)))
        rows = self.conn.execute(q).all()
        return {bytes(r.key_id): (r.origin, bytes(r.public_key_pem)) for r in rows}

    def behind(self, streams: Iterable[str] | None = None) -> dict[str, int]:
        """This node's own streams its parent holds further than it does (stream -> the parent's
        seq), while it gets them back; UNCHECKED -> 0 after a restore, until the parent says.
        Only `streams` when given: a key lookup, not a scan of node_meta (which holds a relay
        cursor per stream), for the journal's check on every append."""
        q = select(NODE_META)
        if streams is None:
            q = q.where(NODE_META.c.key.startswith(BEHIND))
        else:
            q = q.where(NODE_META.c.key.in_([BEHIND + s for s in streams]))
        return {r.key.removeprefix(BEHIND): int(r.value) for r in self.conn.execute(q).all()}

    def set_behind(self, streams: Mapping[str, int]) -> None:
        """Replace the marks `behind` reads."""
        self.conn.execute(delete(NODE_META).where(NODE_META.c.key.startswith(BEHIND)))
        if streams:
            self.conn.execute(insert(NODE_META), [{"key": BEHIND + s, "value": q} for s, q in streams.items()])

    def streams(self) -> list[tuple[str, str, int, bytes]]:
        rows = self.conn.execute(select(STREAM_TAILS).order_by(STREAM_TAILS.c.origin, STREAM_TAILS.c.stream)).all()
        return [(r.origin, r.stream, r.seq, bytes(r.hash)) for r in rows]

    def entries(self, origin: str, stream: str, after: int = 0, chunk: int = 5000) -> Iterator[Entry]:
        """Entries of one stream in seq order, read in chunks."""
        last = after
        while True:
            rows = self.conn.execute(
                select(*_ENTRY_READ)
                .where(ENTRIES.c.origin == origin, ENTRIES.c.stream == stream, ENTRIES.c.seq > last)
                .order_by(ENTRIES.c.seq)
                .limit(chunk)
            ).all()
            if not rows:
                return
            for r in rows:
                yield entry_from_row(r)
            last = rows[-1].seq

    def entries_about(self, subject: str) -> list[Entry]:
        rows = self.conn.execute(
            select(*_ENTRY_READ).where(ENTRIES.c.subject == subject).order_by(ENTRIES.c.recorded_at_us, ENTRIES.c.seq)
        ).all()
        return [entry_from_row(r) for r in rows]

    def latest_head(self, origin: str, stream: str) -> Head | None:
        row = self.conn.execute(
            select(HEADS)
            .where(HEADS.c.origin == origin, HEADS.c.stream == stream)
            .order_by(HEADS.c.seq.desc())
            .limit(1)
        ).first()
        return None if row is None else _head(row)

    def heads(self, origin: str, stream: str) -> list[Head]:
        rows = self.conn.execute(
            select(HEADS).where(HEADS.c.origin == origin, HEADS.c.stream == stream).order_by(HEADS.c.seq)
        ).all()
        return [_head(r) for r in rows]

    def all_entries(self) -> list[tuple[int, Entry]]:
        """Every entry this node holds with the time it stored it (0 before revision 0002)."""
        return [(r.held_ns or 0, entry_from_row(r)) for r in self.conn.execute(select(*_ENTRY_READ)).all()]
