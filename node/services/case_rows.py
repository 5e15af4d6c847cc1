"""Case rows from case entries of any writer: the `cases` table at every node, written only
through node.services.projection.

A case is written by one custodian at a time, but over its life by several nodes (the filing
village, the county that handles it, the city it is escalated to), and their entries reach a
node along different paths and so in any order. Each entry carries the case's version after
it; entries are applied strictly in version order. One that arrives early waits in
`case_backlog` until its predecessors are here; one already applied is skipped. Applying checks
the lifecycle table and that the writer was the custodian (DESIGN.md section 8): an entry that
breaks either is kept in the log without effect and reported (`refused`, an alarm for the
caller to raise): refusing the batch instead would stop its origin's whole stream at this node
for good, since a chain cannot skip an entry.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from federation.wire.codec_cases import CaseRecord, case_record
from node.domain.calendar import WorkCalendar
from node.domain.counting import CountKey, counted, key_of
from node.domain.entries import Entry
from node.domain.errors import OperatorError, PeerError
from node.domain.lifecycle import CLOCK_STOPPED, CaseState, Command, File, OfferCustody, apply, check_writer
from node.domain.supervision import resolved
from node.domain.timelimits import due_date, local_date
from node.services.ports import micros
from node.services.review_rows import REVIEW_COMMANDS, on_change
from node.store.cases import StoredCase, case_row

if TYPE_CHECKING:
    from node.store import Tx


class CaseRuleBroken(PeerError):
    """A case entry from another node breaks the lifecycle or the custody rule."""

    def __init__(self, e: Entry, reason: str) -> None:
        super().__init__(f"{e.origin}/{e.stream}/{e.seq}: case rule broken: {reason}")
        self.entry, self.reason = e, f"case rule broken: {reason}"


Known = tuple[CaseRecord, CaseState]  # a local command's decoded record and the state after it


def project_cases(
    tx: Tx,
    entries: Sequence[Entry],
    calendar: WorkCalendar,
    new_to_me: bool = False,
    known: Sequence[Known] | None = None,
    prior: Mapping[str, StoredCase] | None = None,
    refused: list[tuple[Entry, str]] | None = None,
    me: str = "",
) -> int:
    """Apply case entries (and any waiting ones they unblock); returns how many are left
    waiting. `new_to_me`: the entries are addressed copies, so a custody offer may bring a
    case this node has never seen. `known`: the record and resulting state of each entry, when
    this node's own command just computed them (the bulk path skips decoding and re-applying);
    `prior`: the rows of those cases as the command read them before it changed them;
    `refused`: where entries that break a case rule go, with the reason (raised when None).
    Due dates follow the entry (an acceptance records its own) or are computed here from the
    state and the calendar as of the entry's day, the same at every node and in a rebuild.
    `me`: this node (a joint review's rows, node.services.review_rows)."""
    if not entries:
        return 0
    pending: dict[str, list[tuple[Entry, CaseRecord, CaseState | None]]] = {}
    if known is not None:
        for e, (rec, state) in zip(entries, known, strict=True):
            pending.setdefault(rec.case_no, []).append((e, rec, state))
    else:
        for e in entries:
            rec = case_record(e.body)
            pending.setdefault(rec.case_no, []).append((e, rec, None))
    parked = tx.case_backlog(list(pending)) if known is None else []  # own commands unblock nothing
    for e in parked:
        rec = case_record(e.body)
        pending[rec.case_no].append((e, rec, None))
    stored = prior if prior is not None else tx.stored_cases(list(pending))
    created: dict[str, tuple[StoredCase, int, bytes]] = {}
    changed: dict[str, tuple[StoredCase, int]] = {}
    waiting: list[tuple[Entry, str, int]] = []
    applied: list[Entry] = []
    changed_at: dict[str, dt.datetime] = {}  # each case's last change applied here
    events: list[tuple[CaseState, dt.datetime, tuple[tuple[str, int], ...]]] = []  # what the statistics count
    for case_no, group in pending.items():
        if len(group) > 1:
            group.sort(key=lambda er: er[1].version)
        current = stored.get(case_no)
        bundle = b""
        seq = 0
        for e, rec, computed in group:
            version = current.state.version if current else 0
            if rec.version <= version:
                applied.append(e)  # here already (by another path, or replayed)
                continue
            if current is None and new_to_me and isinstance(rec.command, REVIEW_COMMANDS):
                try:  # a reviewer's node: the review, not the case
                    done = on_change(tx, me, rec, None, calendar, rec.about)
                except OperatorError as exc:
                    if refused is None:
                        raise CaseRuleBroken(e, str(exc)) from None
                    refused.append((e, f"case rule broken: {exc}"))
                    continue
                if done:
                    applied.append(e)
                else:  # the request has not come yet
                    waiting.append((e, case_no, rec.version))
                continue
            try:
                after = computed if computed is not None else _next(current, e, rec, version, new_to_me)
            except CaseRuleBroken as exc:
                if refused is None:
                    raise
                refused.append((e, exc.reason))
                continue
            if after is None:
                if new_to_me and isinstance(rec.command, REVIEW_COMMANDS):  # this node's copy of the case is behind
                    with contextlib.suppress(OperatorError):  # (the case's own checks run when it catches up)
                        on_change(tx, me, rec, None, calendar, rec.about)
                waiting.append((e, case_no, rec.version))
                continue
            if isinstance(rec.command, File):
                bundle = rec.sealed_bundle_hash
            moved = counted(after, rec.command, rec.at, current.due_date if current else "", calendar)
            if moved:
                events.append((after, rec.at, moved))
            changed_at[case_no] = rec.at
            if isinstance(rec.command, REVIEW_COMMANDS) and after.review is not None:
                on_change(tx, me, rec, after, calendar, (after.item_code, after.filing_division))
            current, seq = StoredCase(after, *_due(current, rec, after, calendar)), e.seq
            applied.append(e)
        if current is None or seq == 0:
            continue
        if case_no in stored:
            changed[case_no] = (current, seq)
        else:
            created[case_no] = (current, seq, bundle)
    _count(tx, events)
    _supervise(tx, events, [c for c, _, _ in created.values()] + [c for c, _ in changed.values()], changed_at)
    tx.insert_cases([case_row(c.state, s, c.due_date, c.due_provisional, b) for c, s, b in created.values()])
    tx.update_cases([case_row(c.state, s, c.due_date, c.due_provisional) for c, s in changed.values()])
    if parked or waiting:
        was_parked = {(e.origin, e.stream, e.seq) for e in parked}
        tx.unpark_case_entries([k for e in applied if (k := (e.origin, e.stream, e.seq)) in was_parked])
        tx.park_case_entries([w for w in waiting if (w[0].origin, w[0].stream, w[0].seq) not in was_parked])
    return len(waiting)


def _count(tx: Tx, events: Sequence[tuple[CaseState, dt.datetime, tuple[tuple[str, int], ...]]]) -> None:
    """Add the changes to the statistics' counters."""
    if not events:
        return
    deltas: dict[CountKey, dict[str, int]] = {}
    for state, at, moved in events:
        counts = deltas.setdefault(key_of(state, at), {})
        for name, n in moved:
            counts[name] = counts.get(name, 0) + n
    tx.add_counts(deltas)


def _supervise(
    tx: Tx,
    events: Sequence[tuple[CaseState, dt.datetime, tuple[tuple[str, int], ...]]],
    cases: Sequence[StoredCase],
    changed_at: Mapping[str, dt.datetime],
) -> None:
    """Open the rectification task of every 差评 and clear the alarms the cases' new states
    resolve (node.domain.supervision)."""
    for state, at, moved in events:
        names = [name for name, _ in moved]
        if "bad_reviews" in names:
            causes = [name.removeprefix("cause_") for name in names if name.startswith("cause_")]
            tx.open_rectification(
                state.case_no, state.handling_division, state.item_code, state.evaluation or 0, causes, micros(at)
            )
    tx.clear_case_alarms({c.state.case_no: (resolved(c.state), micros(changed_at[c.state.case_no])) for c in cases})


def _due(current: StoredCase | None, rec: CaseRecord, after: CaseState, calendar: WorkCalendar) -> tuple[str, bool]:
    """The stored due date after `rec`: the one it records, a new one where the clock started,
    stopped or ran again, else the one before."""
    if rec.due_date:
        return rec.due_date, rec.due_provisional
    if rec.command.command in CLOCK_COMMANDS or after.status in CLOCK_STOPPED:
        return due_of(calendar, after, local_date(rec.at))
    if current is not None:
        return current.due_date, current.due_provisional
    return "", False


def due_of(calendar: WorkCalendar, s: CaseState, today: dt.date) -> tuple[str, bool]:
    """(due date, provisional) of a case as of `today`; ("", False) before acceptance or for
    an item without a time limit."""
    if s.accepted_at is None or s.limit_days is None:
        return "", False
    calendar = calendar.for_division(s.handling_division)  # local holidays where it is handled
    due = due_date(calendar, local_date(s.accepted_at), s.limit_days, s.stops, today)
    return due.due_date.isoformat(), due.provisional


# Commands after which the due date is computed again: the clock starts, stops or runs.
CLOCK_COMMANDS = frozenset(
    {Command.ACCEPT, Command.REQUEST_SUPPLEMENT, Command.SUPPLEMENT, Command.SUSPEND, Command.RESUME}
)


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
