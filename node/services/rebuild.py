"""`yiwang rebuild`: empty the derived tables and replay the node's log through the one
projection (DESIGN.md section 3). The log is what this node holds: the entries of its own,
its subtree's and its ancestors' streams, and the addressed copies it relayed or received.
They are replayed in the order this node stored them (`held_ns`), so a calendar moves the due
dates of the cases that were open when it arrived, and a case met first as a copy is met first
again. Rows stored before schema revision 0002 have no such time: they come first, in the order
their origins wrote them (time, then origin, stream and seq).

What is not derived is kept: the log itself, heads, keys, addressed copies, sealed bundles,
materials, licences, tokens, peers and alarms. `check` replays, compares row for row with the
tables as they were and rolls everything back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from federation.wire.codec import addressed_from_wire
from node.domain.divisions import DivisionCode
from node.domain.entries import CASE_KINDS, Entry, Kind
from node.services.projection import Projection
from node.store import Store, Tx
from node.store.mail import DELIVERED
from node.store.repo import DERIVED_TABLES

Progress = Callable[[int, int], None]
CHUNK = 2000
Replayed = tuple[int, Entry, bool, bool]  # when stored (ns), the entry, a copy?, addressed here?


@dataclass(frozen=True)
class RebuildResult:
    entries: int
    differences: dict[str, int] = field(default_factory=dict)  # table -> rows that differ (check)


class _RollBack(Exception):
    pass


class Rebuilder:
    def __init__(self, me: DivisionCode, store: Store, projection: Projection) -> None:
        self.me, self.store, self.projection = me, store, projection

    def rebuild(self, progress: Progress | None = None, check: bool = False) -> RebuildResult:
        """Replay everything in one transaction (all or nothing)."""
        result = RebuildResult(0)
        try:
            with self.store.transaction() as tx:
                before = {t.name: tx.rows_of(t) for t in DERIVED_TABLES} if check else {}
                tx.clear(DERIVED_TABLES)
                self.projection.calendar.forget()
                log = self._log(tx)
                for start in range(0, len(log), CHUNK):
                    _replay(self.projection, tx, log[start : start + CHUNK])
                    if progress is not None:
                        progress(min(start + CHUNK, len(log)), len(log))
                result = RebuildResult(len(log))
                if check:
                    result = RebuildResult(len(log), _differences(before, tx))
                    raise _RollBack
        except _RollBack:
            pass
        finally:
            self.projection.calendar.forget()
        return result

    def _log(self, tx: Tx) -> list[Replayed]:
        log: list[Replayed] = [(held, e, False, False) for held, e in tx.all_entries()]
        for held, addressee, state, wire in tx.addressed_wires():
            e = addressed_from_wire(wire).entry
            followed = e.kind in CASE_KINDS or e.kind == Kind.REVIEW_OPINION
            if followed and not self.me.is_ancestor_of(DivisionCode(e.origin)):
                log.append((held, e, True, False))  # a case this node follows by copies
            if e.kind == Kind.BUNDLE_SENT and state == DELIVERED and addressee == self.me.code:
                log.append((held, e, False, True))
        log.sort(key=lambda r: (r[0], r[1].recorded_at_us, r[1].origin, r[1].stream, r[1].seq, r[2], r[3]))
        seen: set[tuple[str, str, int, bool, bool]] = set()  # one entry may be held as several copies
        out = []
        for r in log:
            key = (r[1].origin, r[1].stream, r[1].seq, r[2], r[3])
            if key not in seen:
                seen.add(key)
                out.append(r)
        return out


def _replay(projection: Projection, tx: Tx, chunk: list[Replayed]) -> None:
    """Runs of entries with the same flags, in order, through the projection."""
    run: list[Entry] = []
    flags = (False, False)
    for _, e, copy, to_me in chunk:
        if (copy, to_me) != flags and run:
            projection.apply(tx, run, copies=flags[0], to_me=flags[1])
            run = []
        flags = (copy, to_me)
        run.append(e)
    if run:
        projection.apply(tx, run, copies=flags[0], to_me=flags[1])


def _differences(before: dict[str, list[tuple[object, ...]]], tx: Tx) -> dict[str, int]:
    out = {}
    for t in DERIVED_TABLES:
        after = tx.rows_of(t)
        diff = len(set(before[t.name]) ^ set(after))
        if diff:
            out[t.name] = diff
    return out
