"""The one projection (DESIGN.md section 3): every entry this node holds - written here,
received in a batch, or delivered as an addressed copy - goes through `Projection.apply` in the
transaction that stores it, and nothing else writes the derived tables: cases and their backlog,
catalog items, calendars (and the due dates they move), revocations and peer-province roots.
`yiwang rebuild` replays the log through the same function into empty tables.

Which entries a tier projects is decided by what it holds (DESIGN.md section 4): every node
projects every entry of its log, so the province counts every case of the province; a relay
stores and forwards the exact bytes and decodes a body only here.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from federation.wire.certs import code_of, fingerprint, load_certificate
from federation.wire.codec_cases import bundle_sent_from_body
from federation.wire.codec_catalog import (
    calendar_from_body,
    delegation_from_body,
    division_part_from_body,
    endorsement_from_body,
    issued_from_body,
    item_from_body,
    revoked_from_body,
)
from federation.wire.codec_supervision import ack_from_body, alarm_from_body, follow_up_from_body, signoff_from_body
from node.domain.calendar import WorkCalendar
from node.domain.catalog import CatalogItem
from node.domain.counting import FOLLOW_UPS, CountKey
from node.domain.divisions import DivisionCode, Tier, part_problem
from node.domain.entries import CASE_KINDS, Entry, Kind
from node.domain.errors import PeerError
from node.domain.supervision import ack_problem, alarm_problem, follow_up_problem, resolved
from node.domain.timelimits import local_date
from node.services.case_rows import Known, due_of, project_cases
from node.services.ports import CalendarCache
from node.services.review_rows import on_opinion
from node.store import Tx
from node.store.cases import StoredCase
from node.store.catalog import item_row

VERSION = re.compile(r"[0-9A-Za-z.+_-]{1,32}")  # what `software_running` may announce


class ProjectionRefused(PeerError):
    """An entry whose effect breaks a rule (a case rule, only a province publishes peer roots):
    raised where such an entry is refused rather than kept without effect (an addressed copy)."""

    def __init__(self, e: Entry, reason: str) -> None:
        super().__init__(f"{e.origin}/{e.stream}/{e.seq}: {reason}")
        self.entry = e


@dataclass
class Projected:
    """What applying entries changed that the caller acts on after commit."""

    cross_region: list[CatalogItem] = field(default_factory=list)  # 通办 items published below
    calendar_changed: bool = False
    due_dates_moved: int = 0
    waiting: int = 0  # case entries parked until their predecessors arrive
    refused: list[tuple[Entry, str]] = field(default_factory=list)  # kept in the log, without effect: why
    endorse: list[Entry] = field(default_factory=list)  # at the province: local holidays to pass on


class Projection:
    def __init__(self, me: DivisionCode, calendar: CalendarCache) -> None:
        self.me, self.calendar = me, calendar

    def apply(
        self,
        tx: Tx,
        entries: Sequence[Entry],
        copies: bool = False,
        to_me: bool = False,
        known: Sequence[Known] | None = None,
        prior: Mapping[str, StoredCase] | None = None,
    ) -> Projected:
        """Update every derived table for `entries`. `copies`: addressed copies of entries
        outside this node's log (a custody offer may bring a case it never saw). `to_me`:
        copies addressed to this node (a bundle sent to it is attached to its case). `known`:
        for this node's own case commands, the record and state of each entry, and `prior`
        the rows of those cases the command read (none for new cases)."""
        out = Projected()
        if known is not None:  # what the command computed with the cached calendar, used again
            out.waiting = project_cases(tx, entries, self.calendar.get(), known=known, prior=prior, me=self.me.code)
            return out
        # The calendar as this transaction sees it (a rebuild has replayed only the years
        # published so far), moved on by the calendars among `entries` in their order.
        calendar = tx.work_calendar()
        items, cases, bundles = [], [], []
        for e in entries:
            kind = e.kind
            if kind in CASE_KINDS:
                cases.append(e)
                continue
            if cases and kind in IN_ORDER:  # the case entries before it are applied first, as written
                out.waiting += project_cases(
                    tx, cases, calendar, new_to_me=copies, refused=out.refused, me=self.me.code
                )
                cases = []
            if kind == Kind.ITEM_PUBLISHED:
                item = item_from_body(e.body)
                items.append(item_row(item, e.origin, e.seq))
                if item.cross_region and e.origin != self.me.code:
                    out.cross_region.append(item)
            elif kind == Kind.CALENDAR_PUBLISHED and not self._governs(e.origin):
                out.refused.append((e, "only the province publishes the working-day calendar"))
            elif kind == Kind.CALENDAR_PUBLISHED:
                calendar, moved = self._calendar(tx, e, calendar)
                out.due_dates_moved += moved
                out.calendar_changed = True
            elif kind in (Kind.CALENDAR_DELEGATED, Kind.LOCAL_CALENDAR_PUBLISHED, Kind.LOCAL_CALENDAR_ENDORSED):
                why = self._local_refusal(tx, e)
                if why is not None and (kind != Kind.LOCAL_CALENDAR_PUBLISHED or e.origin[:2] != self.me.code[:2]):
                    out.refused.append((e, why))
                    continue
                calendar, moved = self._local(tx, e)
                out.due_dates_moved += moved
                out.calendar_changed = True
                if why is not None:  # kept: it takes effect if the province delegates later
                    out.refused.append((e, why))
                elif kind == Kind.LOCAL_CALENDAR_PUBLISHED and self.me.tier == Tier.PROVINCE:
                    out.endorse.append(e)
            elif kind == Kind.DIVISIONS_PUBLISHED:
                why = self._divisions(tx, e)
                if why is not None:
                    out.refused.append((e, why))
            elif kind == Kind.SOFTWARE_RUNNING:
                why = _software(tx, e)
                if why is not None:
                    out.refused.append((e, why))
            elif kind == Kind.STATS_SIGNED:
                why = _signed(tx, e)
                if why is not None:
                    out.refused.append((e, why))
            elif kind == Kind.ANCHOR_ADDED:
                why = self._trust_root(tx, e)
                if why is not None:
                    out.refused.append((e, why))
            elif kind == Kind.CERT_REVOKED:
                code, fp = revoked_from_body(e.body)
                tx.put_revocation(fp, code, e.origin, e.recorded_at_us, e.seq)
            elif kind == Kind.BUNDLE_SENT and to_me:
                bundles.append(e)
            elif kind == Kind.REVIEW_OPINION:
                why = on_opinion(tx, self.me.code, e, calendar)
                if why is not None:
                    out.refused.append((e, why))
            elif kind in SUPERVISION_KINDS:
                why = _supervision(tx, e)
                if why is not None:
                    out.refused.append((e, why))
        tx.put_items(items)
        if cases:
            out.waiting += project_cases(tx, cases, calendar, new_to_me=copies, refused=out.refused, me=self.me.code)
        for e in bundles:  # after the case rows: an offer and its bundle may come together
            case_no, digest = bundle_sent_from_body(e.body)
            tx.set_case_bundle(case_no, digest)
        if self.me.tier != Tier.PROVINCE:
            out.cross_region = []
        if out.calendar_changed:
            self.calendar.forget()  # and the caller again after commit (another thread may have read it meanwhile)
        return out

    def _governs(self, origin: str) -> bool:
        """The working-day calendar is the province's (DESIGN.md section 9): this node follows its
        own province's, and nobody else's; one from another node of its branch is refused."""
        code = DivisionCode(origin)
        return code.tier == Tier.PROVINCE and (origin == self.me.code or code.is_ancestor_of(self.me))

    def _local_refusal(self, tx: Tx, e: Entry) -> str | None:
        """Why a delegation or local calendar has no effect here, or None when it has."""
        if e.kind in (Kind.CALENDAR_DELEGATED, Kind.LOCAL_CALENDAR_ENDORSED):
            return None if self._governs(e.origin) else "only the province delegates and endorses local holidays"
        if e.origin[:2] != self.me.code[:2]:
            return "local holidays of another province"
        if not tx.delegated(e.origin):
            return "local holidays of a division the province has not delegated them to (no effect until it does)"
        return None

    def _local(self, tx: Tx, e: Entry) -> tuple[WorkCalendar, int]:
        """Keep a delegation or a local year and move the due dates of the open cases handled
        in that division's subtree; returns the calendar now and how many due dates moved."""
        if e.kind == Kind.CALENDAR_DELEGATED:
            division, allowed, _ = delegation_from_body(e.body)
            tx.put_delegation(division, allowed, e.origin, e.seq)
            since = "0001-01-01"
        elif e.kind == Kind.LOCAL_CALENDAR_ENDORSED:
            division, seq, year = endorsement_from_body(e.body)
            tx.put_local_calendar(division, year, seq)
            since = f"{year.year}-01-01"
        else:
            division, year = e.origin, calendar_from_body(e.body)
            tx.put_local_calendar(division, year, e.seq)
            since = f"{year.year}-01-01"
        calendar = tx.work_calendar()
        return calendar, self._recompute(tx, calendar, since, _at(e.recorded_at_us), DivisionCode(division))

    @staticmethod
    def _recompute(tx: Tx, calendar: WorkCalendar, since: str, at: dt.datetime, within: DivisionCode | None) -> int:
        """Due dates of open cases due from `since` (handled within `within`), computed again."""
        today = local_date(at)
        updates = []
        for state in tx.open_cases_with_due_from(since):
            if within is not None and not within.contains(DivisionCode(state.handling_division)):
                continue
            due, provisional = due_of(calendar, state, today)
            if due:
                updates.append((state.case_no, due, provisional))
        tx.set_due(updates)
        return len(updates)

    def _calendar(self, tx: Tx, e: Entry, before: WorkCalendar) -> tuple[WorkCalendar, int]:
        """Keep a published year and move the due dates of open cases it concerns; returns the
        calendar with the year and how many due dates were computed again."""
        year = calendar_from_body(e.body)
        tx.put_calendar(year, e.origin, e.seq)
        calendar = before.with_year(year)
        return calendar, self._recompute(tx, calendar, f"{year.year}-01-01", _at(e.recorded_at_us), None)

    def _divisions(self, tx: Tx, e: Entry) -> str | None:
        """Keep a part of this node's province's division list; why not, when it is not."""
        if e.origin != self.me.code[:2].ljust(12, "0"):
            return "only this node's own province publishes its division list"
        root, rows = division_part_from_body(e.body)
        why = part_problem(e.origin, root, rows)
        if why is None:
            tx.put_division_part(root, rows, e.seq)
        return why

    @staticmethod
    def _trust_root(tx: Tx, e: Entry) -> str | None:
        """A peer province's root, published by a province; why not, when it is not."""
        code, der = issued_from_body(e.body)
        root = load_certificate(der)
        if DivisionCode(e.origin).tier != Tier.PROVINCE or code_of(root).tier != Tier.PROVINCE:
            return "only a province publishes peer provinces' roots"
        tx.put_trusted_root(fingerprint(root), code, e.origin, e.seq)
        return None


SUPERVISION_KINDS = frozenset(
    {Kind.SUPERVISION_ALARM, Kind.ALARM_ACKNOWLEDGED, Kind.REVIEW_CALLED_BACK, Kind.REVIEW_RECTIFIED}
)
# Entries that must meet the case entries before them applied: a calendar moves the due dates of
# the cases open then, an alarm sees its case as it was, a sign-off flags only what came after it.
IN_ORDER = frozenset(
    {
        Kind.CALENDAR_PUBLISHED,
        Kind.CALENDAR_DELEGATED,
        Kind.LOCAL_CALENDAR_PUBLISHED,
        Kind.LOCAL_CALENDAR_ENDORSED,
        Kind.STATS_SIGNED,
        Kind.REVIEW_OPINION,  # answers the request before it
        *SUPERVISION_KINDS,
    }
)


def _software(tx: Tx, e: Entry) -> str | None:
    """Keep the version a node announced; why not, when its body is no version."""
    version = e.body.decode("utf-8", "replace")
    if not VERSION.fullmatch(version):
        return "a software_running entry whose body is no version (up to 32 letters, digits, . + - _)"
    tx.put_node_version(e.origin, version, e.recorded_at_us, e.seq)
    return None


def _signed(tx: Tx, e: Entry) -> str | None:
    """Keep a monthly sign-off; why not, when it is not its origin's own."""
    signed = signoff_from_body(e.body)
    if signed.division != e.origin:
        return "a node signs off its own subtree's figures only"
    children = [(c.division, c.seq, c.entry_hash.hex()) for c in signed.children]
    tx.put_signoff(signed.period, e.origin, e.seq, e.hash, signed.by, e.recorded_at_us, signed.counts, children)
    return None


def _supervision(tx: Tx, e: Entry) -> str | None:
    """An alarm, an acknowledgement or a 差评 follow-up step, kept in its table (a step also
    adds to the counters under the case's key, on its day); why not, when it breaks a rule of
    node.domain.supervision (kept in the log without effect)."""
    if e.kind == Kind.SUPERVISION_ALARM:
        alarm = alarm_from_body(e.body)
        why = alarm_problem(e.origin, alarm)
        if why is None:
            tx.put_alarm(e.origin, e.seq, alarm, e.recorded_at_us)
            case = tx.stored_cases([alarm.case_no]).get(alarm.case_no) if alarm.case_no else None
            if case is not None and alarm.rule in resolved(case.state):  # resolved before the alarm came
                tx.clear_rule(alarm.case_no, alarm.rule, e.recorded_at_us)
        return why
    if e.kind == Kind.ALARM_ACKNOWLEDGED:
        ack = ack_from_body(e.body)
        why = ack_problem(e.origin, ack, ack.origin)
        if why is None:
            tx.acknowledge_alarm(ack, e.recorded_at_us)
        return why
    step = follow_up_from_body(e.kind, e.body)
    why = follow_up_problem(e.origin, step)
    if why is not None:
        return why
    tx.follow_up(step.case_no, step.step, e.recorded_at_us, step.note, step.handling, step.item_code)
    if step.step == "rectified":
        tx.clear_rule(step.case_no, "rectification", e.recorded_at_us)
    day = local_date(_at(e.recorded_at_us)).isoformat()
    tx.add_counts({CountKey(day, step.handling, step.filing, step.item_code, step.channel): {FOLLOW_UPS[e.kind]: 1}})
    return None


def _at(us: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=us)
