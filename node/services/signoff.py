"""Monthly sign-off (issue 11, node.domain.signoff): `sign` writes this node's subtree figures
for a finished month into its public stream once every child node signed that month (naming
their sign-off entries); `status` shows who signed, whose signed figures have changed since,
and whether each parent's sign-off covers its children's as they are held here."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from federation.wire.codec_supervision import signoff_body
from node.domain.divisions import DivisionCode
from node.domain.entries import Kind, Stream
from node.domain.errors import InvalidInput, StateConflict
from node.domain.signoff import SignedChild, SignOff, differences, month_of
from node.domain.timelimits import local_date
from node.journal import Journal, Record
from node.services.ports import Clock, micros
from node.services.projection import Projection
from node.services.stats import Period, Query, StatsService
from node.store import Store
from node.store.tables import SignOffRow


@dataclass(frozen=True)
class SignOffStatus:
    division: str
    signed: SignOffRow | None
    changed: dict[str, tuple[int, int]]  # counters whose value now differs from the signed one
    uncovered: list[str]  # children whose sign-off here is not the one the parent's names


class SignOffService:
    def __init__(
        self,
        me: DivisionCode,
        store: Store,
        journal: Journal,
        projection: Projection,
        clock: Clock,
        stats: StatsService,
    ) -> None:
        self.me, self.store, self.journal, self.projection = me, store, journal, projection
        self.clock, self.stats = clock, stats

    def sign(self, period: str, by: str) -> SignOffRow:
        """Sign this node's subtree figures for `period` (YYYY-MM, a month that is over)."""
        first, last = month_of(period)
        month = first.strftime("%Y-%m")
        now = self.clock()
        if local_date(now) <= last:
            raise InvalidInput("--period", f"{month} is not over yet: sign it from {last + dt.timedelta(days=1)} on")
        with self.store.transaction() as tx:
            self.journal.lock(tx, Stream.CASE)  # case, then public, as every writer: no count moves meanwhile
            tail = self.journal.lock(tx, Stream.PUBLIC)
            signed = {r.division: r for r in tx.signoffs(month, self.me.prefix)}
            if self.me.code in signed:
                raise StateConflict(f"{self.me.code} signed {month} already ({signed[self.me.code].signed_by})")
            children = sorted(tx.enrolled_children())
            missing = [c for c in children if c not in signed]
            if missing:
                raise StateConflict(
                    f"{len(missing)} child node(s) have not signed {month} yet: {', '.join(missing[:10])}; "
                    "a parent signs after all its children"
                )
            counts = self.stats.figures_in(tx, self.me, Query(Period(first, last), self.me.code))[0].counts
            body = signoff_body(
                SignOff(
                    month,
                    self.me.code,
                    by,
                    counts,
                    tuple(SignedChild(c, signed[c].seq, signed[c].entry_hash) for c in children),
                )
            )
            entries = self.journal.append(
                tx, Stream.PUBLIC, [Record(Kind.STATS_SIGNED, month, body)], micros(now), tail
            )
            self.projection.apply(tx, entries)
            [row] = [r for r in tx.signoffs(month, self.me.prefix) if r.division == self.me.code]
        return row

    def status(self, period: str) -> list[SignOffStatus]:
        """This node, its child nodes and every division of its subtree that signed `period`."""
        first, last = month_of(period)
        month = first.strftime("%Y-%m")
        with self.store.read() as tx:
            rows = {r.division: r for r in tx.signoffs(month, self.me.prefix)}
            children = tx.enrolled_children()
        out = []
        for division in sorted({self.me.code, *children, *rows}):
            row = rows.get(division)
            changed: dict[str, tuple[int, int]] = {}
            uncovered: list[str] = []
            if row is not None:
                now = self.stats.figures(Query(Period(first, last), division))[0].counts
                changed = differences(row.counts, now)
                for child, seq, hash_hex in row.children:
                    held = rows.get(child)
                    if held is None or held.seq != seq or held.entry_hash.hex() != hash_hex:
                        uncovered.append(child)
            out.append(SignOffStatus(division, row, changed, uncovered))
        return out
