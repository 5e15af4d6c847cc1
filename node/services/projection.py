"""Case rows from case entries of any writer: the derived `cases` table at every node.

A case is written by one custodian at a time, but over its life by several nodes (the filing
village, the county that handles it, the city it is escalated to), and their entries reach a
node along different paths and so in any order. Each entry carries the case's version after
it; entries are applied strictly in version order. One that arrives early waits in
`case_backlog` until its predecessors are here; one already applied is skipped. Applying checks
the lifecycle table and that the writer was the custodian (DESIGN.md section 8): an entry that
breaks either raises CaseRuleBroken and nothing of the caller's transaction is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from federation.wire.codec import CaseRecord, case_record
from node.domain.entries import Entry
from node.domain.errors import OperatorError, PeerError
from node.domain.lifecycle import CaseState, File, OfferCustody, apply, check_writer
from node.store.repo import StoredCase, case_row

if TYPE_CHECKING:
    from node.store import Tx


class CaseRuleBroken(PeerError):
    """A case entry from another node breaks the lifecycle or the custody rule."""

    def __init__(self, e: Entry, reason: str) -> None:
        super().__init__(f"{e.origin}/{e.stream}/{e.seq}: case rule broken: {reason}")
        self.entry = e


def project(tx: Tx, entries: Sequence[Entry], new_to_me: bool = False) -> int:
    """Apply case entries (and any waiting ones they unblock); returns how many are left
    waiting. `new_to_me`: the entries are addressed copies, so a custody offer may bring a
    case this node has never seen."""
    if not entries:
        return 0
    pending: dict[str, list[tuple[Entry, CaseRecord]]] = {}
    for e in entries:
        rec = case_record(e.body)
        pending.setdefault(rec.case_no, []).append((e, rec))
    parked = tx.case_backlog(list(pending))
    for e in parked:
        rec = case_record(e.body)
        pending[rec.case_no].append((e, rec))
    stored = tx.stored_cases(list(pending))
    created: dict[str, tuple[StoredCase, int, bytes]] = {}
    changed: dict[str, tuple[StoredCase, int]] = {}
    waiting: list[tuple[Entry, str, int]] = []
    applied: list[Entry] = []
    for case_no, group in pending.items():
        group.sort(key=lambda er: er[1].version)
        current = stored.get(case_no)
        bundle = b""
        seq = 0
        for e, rec in group:
            version = current.state.version if current else 0
            if rec.version <= version:
                applied.append(e)  # here already (by another path, or replayed)
                continue
            after = _next(current, e, rec, version, new_to_me)
            if after is None:
                waiting.append((e, case_no, rec.version))
                continue
            if isinstance(rec.command, File):
                bundle = rec.sealed_bundle_hash
            due = rec.due_date or (current.due_date if current else "")
            provisional = rec.due_provisional if rec.due_date else (current.due_provisional if current else False)
            current, seq = StoredCase(after, due, provisional), e.seq
            applied.append(e)
        if current is None or seq == 0:
            continue
        if case_no in stored:
            changed[case_no] = (current, seq)
        else:
            created[case_no] = (current, seq, bundle)
    tx.insert_cases([case_row(c.state, s, c.due_date, c.due_provisional, b) for c, s, b in created.values()])
    tx.update_cases([case_row(c.state, s, c.due_date, c.due_provisional) for c, s in changed.values()])
    was_parked = {(e.origin, e.stream, e.seq) for e in parked}
    tx.unpark_case_entries([k for e in applied if (k := (e.origin, e.stream, e.seq)) in was_parked])
    tx.park_case_entries([w for w in waiting if (w[0].origin, w[0].stream, w[0].seq) not in was_parked])
    return len(waiting)


def _next(current: StoredCase | None, e: Entry, rec: CaseRecord, version: int, new_to_me: bool) -> CaseState | None:
    """The case after `rec`, or None when it must wait for an earlier entry."""
    state = current.state if current else None
    if rec.writer != e.origin:
        raise CaseRuleBroken(e, f"written by {e.origin} but signed as {rec.writer}")
    try:
        if state is None and isinstance(rec.command, OfferCustody) and new_to_me and rec.outline is not None:
            check_writer(rec.outline._replace(offered_to=""), rec.command, rec.writer)
            return rec.outline  # a case offered to this node, which never saw it
        if rec.version != version + 1 or (state is None and not isinstance(rec.command, File)):
            return None
        check_writer(state, rec.command, rec.writer)
        after = apply(state, rec.command, rec.at)
    except OperatorError as exc:
        raise CaseRuleBroken(e, str(exc)) from None
    if after.version != rec.version:
        raise CaseRuleBroken(e, f"version {rec.version} where the case is at {after.version}")
    return after
