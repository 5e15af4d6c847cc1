"""Storage functions for addressed entries (the `addressed` table). Mixed into `Tx`; every
statement of that table is here."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import ColumnElement, Connection, and_, func, insert, or_, select, tuple_, update

from node.store.base import Value, rows_as
from node.store.tables import ADDRESSED, AddressedRow

Key = tuple[str, str, int, str]  # origin, stream, seq, addressee

OUTBOX, FORWARDED, DELIVERED = "outbox", "forwarded", "delivered"
DEAD, DISCARDED = "dead", "discarded"  # refused for good by the next hop; given up by an admin


class MailTx:
    conn: Connection

    def known_addressed(self, keys: Iterable[Key]) -> set[Key]:
        """Which of `keys` this node already holds (in any state)."""
        keys = list(keys)
        found: set[Key] = set()
        c = ADDRESSED.c
        for i in range(0, len(keys), 300):
            chunk = keys[i : i + 300]
            rows = self.conn.execute(
                select(c.origin, c.stream, c.seq, c.addressee).where(
                    tuple_(c.origin, c.stream, c.seq, c.addressee).in_(chunk)
                )
            )
            found.update((r[0], r[1], r[2], r[3]) for r in rows)
        return found

    def put_addressed(self, rows: Sequence[Mapping[str, Value]]) -> None:
        if rows:
            now = time.time_ns()  # the order a rebuild replays copies in (see EntryRow.held_ns)
            self.conn.execute(insert(ADDRESSED), [{**r, "held_ns": now + i} for i, r in enumerate(rows)])

    def outbox(self, next_hop: str, limit: int) -> list[tuple[Key, bytes]]:
        """Entries waiting for `next_hop` to acknowledge them, oldest first."""
        c = ADDRESSED.c
        q = (
            select(c.origin, c.stream, c.seq, c.addressee, c.wire)
            .where(and_(c.next_hop == next_hop, c.state == OUTBOX))
            .order_by(c.received_at_us, c.origin, c.stream, c.seq)
            .limit(limit)
        )
        return [((r[0], r[1], r[2], r[3]), bytes(r[4])) for r in self.conn.execute(q)]

    def mark_forwarded(self, next_hop: str, keys: Iterable[Key], at_us: int) -> int:
        """The next hop stored these: they leave the outbox. Returns how many rows changed."""
        c = ADDRESSED.c
        changed = 0
        for key in keys:
            where = and_(_is(key), c.next_hop == next_hop, c.state == OUTBOX)
            changed += self.conn.execute(
                update(ADDRESSED).where(where).values(state=FORWARDED, done_at_us=at_us)
            ).rowcount
        return changed

    def park_dead(self, next_hop: str, refusals: Iterable[tuple[Key, str]], at_us: int) -> list[AddressedRow]:
        """The next hop refused these for good: they leave the outbox as dead letters with the
        reason. Returns the rows parked (a refusal of a copy not in the outbox changes nothing)."""
        c = ADDRESSED.c
        parked: list[AddressedRow] = []
        for key, reason in refusals:
            where = and_(_is(key), c.next_hop == next_hop, c.state == OUTBOX)
            if self.conn.execute(
                update(ADDRESSED).where(where).values(state=DEAD, refusal=reason[:500], done_at_us=at_us)
            ).rowcount:
                parked.extend(rows_as(AddressedRow, self.conn.execute(select(ADDRESSED).where(_is(key)))))
        return parked

    def revive_dead(self, keys: Iterable[Key] | None) -> int:
        """Dead letters (all of them when `keys` is None) back into the outbox, to be sent again."""
        return self._from_dead(keys, {"state": OUTBOX, "refusal": "", "done_at_us": None})

    def revive_transient(self, next_hop: str, refused_before_us: int, classes: Sequence[str]) -> int:
        """Dead letters for `next_hop` refused before then for a cause that may pass (an issuer
        not known there yet, a certificate outside its validity by the receiver's clock): back
        into the outbox."""
        c = ADDRESSED.c
        transient = or_(*(c.refusal.startswith(f"{name}:") for name in classes))
        where = and_(c.state == DEAD, c.next_hop == next_hop, c.done_at_us < refused_before_us, transient)
        q = update(ADDRESSED).where(where).values(state=OUTBOX, refusal="", done_at_us=None)
        return int(self.conn.execute(q).rowcount)

    def discard_dead(self, keys: Iterable[Key], at_us: int) -> int:
        """Dead letters given up: kept (a resent copy is still recognised), never sent again."""
        return self._from_dead(keys, {"state": DISCARDED, "done_at_us": at_us})

    def _from_dead(self, keys: Iterable[Key] | None, values: dict[str, Value]) -> int:
        c = ADDRESSED.c
        if keys is None:
            return int(self.conn.execute(update(ADDRESSED).where(c.state == DEAD).values(**values)).rowcount)
        changed = 0
        for key in keys:
            q = update(ADDRESSED).where(and_(_is(key), c.state == DEAD)).values(**values)
            changed += self.conn.execute(q).rowcount
        return changed

    def addressed_counts(self) -> dict[str, int]:
        """Addressed copies held, by state (outbox: waiting for the next hop; dead: refused)."""
        c = ADDRESSED.c
        return {str(s): int(n) for s, n in self.conn.execute(select(c.state, func.count()).group_by(c.state))}

    def addressed_rows(self, state: str = "", limit: int = 50, kind: str = "") -> list[AddressedRow]:
        """Rows newest first, optionally of one state and kind."""
        c = ADDRESSED.c
        q = select(ADDRESSED)
        if state:
            q = q.where(c.state == state)
        if kind:
            q = q.where(c.kind == kind)
        return rows_as(AddressedRow, self.conn.execute(q.order_by(c.received_at_us.desc()).limit(limit)))

    def addressed_wires(self) -> list[tuple[int, str, str, bytes]]:
        """(held_ns, addressee, state, wire) of every addressed copy this node holds."""
        c = ADDRESSED.c
        rows = self.conn.execute(select(c.held_ns, c.addressee, c.state, c.wire))
        return [(r[0] or 0, r[1], r[2], bytes(r[3])) for r in rows]

    def offer_copy_state(self, case_no: str, origin: str, addressee: str) -> str | None:
        """The state of the latest custody offer copy of `case_no` from `origin` to `addressee`."""
        c = ADDRESSED.c
        q = (
            select(c.state)
            .where(
                and_(
                    c.subject == case_no,
                    c.kind == "case_custody_offered",
                    c.origin == origin,
                    c.addressee == addressee,
                )
            )
            .order_by(c.seq.desc())
            .limit(1)
        )
        row = self.conn.execute(q).first()
        return None if row is None else str(row[0])

    def sent_copy(self, subject: str, kind: str, origin: str, addressee: str) -> bool:
        """Whether this node holds a copy of `kind` about `subject` from `origin` to `addressee`."""
        c = ADDRESSED.c
        q = select(c.seq).where(c.subject == subject, c.kind == kind, c.origin == origin, c.addressee == addressee)
        return self.conn.execute(q.limit(1)).first() is not None

    def addressed_about(self, subject: str) -> list[bytes]:
        """Wires of the addressed entries about `subject` (a case number) this node holds."""
        c = ADDRESSED.c
        return [bytes(r[0]) for r in self.conn.execute(select(c.wire).where(c.subject == subject))]


def _is(key: Key) -> ColumnElement[bool]:
    origin, stream, seq, addressee = key
    c = ADDRESSED.c
    return and_(c.origin == origin, c.stream == stream, c.seq == seq, c.addressee == addressee)
