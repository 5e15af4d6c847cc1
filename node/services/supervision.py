"""Electronic supervision (电子监察) and 好差评 follow-up at one node (issue 11, DESIGN.md section
10). `scan` looks at what this node is answerable for - the open cases it holds, its own
refusals and denials, the 差评 of cases it handled, and its own division's catalog - and writes
an alarm entry for each finding not raised before (node.domain.supervision); the entries go up
to every ancestor, which keeps them in its table, and the bus publishes them. A supervisor
acknowledges an alarm with an entry; the handling node records a 差评's callback (回访) and
rectification (整改) with entries.

Each case is scanned by its custodian only, so one finding is one alarm in the whole
federation; a finding that moves on (yellow to red, a new stage, a new due date) is a new one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from federation.wire.codec_cases import case_record
from federation.wire.codec_supervision import FOLLOW_UP_KINDS, ack_body, alarm_body, follow_up_body
from node import logs
from node.domain.bounds import check
from node.domain.calendar import WorkCalendar
from node.domain.divisions import DivisionCode
from node.domain.entries import Kind, Stream
from node.domain.errors import Forbidden, InvalidInput, NotFound, StateConflict
from node.domain.lifecycle import Decide, Reject
from node.domain.supervision import (
    FOLLOW_UP_STEPS,
    LEVELS,
    RULES,
    Acknowledgement,
    Alarm,
    FollowUp,
    Thresholds,
    check_note,
    findings,
    newer,
    thin_reasons,
)
from node.domain.timelimits import CHINA_TZ, local_date, working_days_between
from node.journal import Journal, Record
from node.services.cases import CaseService
from node.services.joint_reviews import record_silences, silent_held
from node.services.ports import CalendarCache, Clock, micros
from node.services.projection import Projection
from node.store import Store, Tx
from node.store.cases import StoredCase
from node.store.tables import JointReviewRow, RectificationRow, SupervisionAlarmRow

# Case alarms found apart from the case's own findings (node.domain.supervision.findings).
SCANNED_APART = frozenset({"rectification", "reviewer"})
JOINT_WORDS = {"agree": "同意", "disagree": "不同意"}

REASONS_CURSOR = "supervision"  # how far the scan read this node's own case stream for reasons
SCAN_LIMIT = 5_000  # open cases read at a time
MAX_OPEN_CASES = 2_000_000  # a bound on one scan's pages


def _late(a: Alarm) -> bool:
    """A carded whole-case limit: its detail names who held the case how long."""
    return a.rule == "limit" and a.level != "warning"


@dataclass(frozen=True)
class ScanResult:
    alarms: list[Alarm]
    cases: int  # open cases looked at


class SupervisionService:
    def __init__(
        self,
        me: DivisionCode,
        store: Store,
        journal: Journal,
        projection: Projection,
        clock: Clock,
        calendar: CalendarCache,
        cases: CaseService,
        thresholds: Thresholds,
    ) -> None:
        self.me, self.store, self.journal, self.projection = me, store, journal, projection
        self.clock, self.calendar, self.cases, self.th = clock, calendar, cases, thresholds
        self.log = logs.get("supervision")

    # -- the scan ---------------------------------------------------------------------------

    def scan(self) -> ScanResult:
        """Write an alarm entry for every new finding; returns them. Findings are computed from
        a read (case writers are not held up), checked again and written under the stream lock."""
        now = self.clock()
        today = local_date(now)
        calendar = self.calendar.get()
        found: list[Alarm] = []
        looked, after = 0, ""
        for _ in range(1 + MAX_OPEN_CASES // SCAN_LIMIT):  # page through every open case it holds
            with self.store.read() as tx:
                page = tx.held_open_cases(self.me.code, SCAN_LIMIT, after)
                raised = tx.raised([c.state.case_no for c in page])
            found += self._case_findings(page, raised, today, calendar)
            looked += len(page)
            if len(page) < SCAN_LIMIT:
                break
            after = page[-1].state.case_no
        with self.store.read() as tx:
            found += self._rectifications(tx, today)
            found += self._zero_cases(tx, today)
            silent = silent_held(tx, self.me.code, today)
            found += self._silent_reviewers(tx, silent)
        found = [replace(a, detail=f"{a.detail}; {self._delay(a.case_no)}") if _late(a) else a for a in found]
        with self.store.transaction() as tx:
            tail = self.journal.lock(tx, Stream.CASE)  # one scan at a time: what another wrote is seen
            cases = {a.case_no for a in found if a.case_no}
            again = tx.raised(cases)
            now_found = {
                (c.state.case_no, f.rule, f.level, f.due)
                for c in tx.stored_cases(cases).values()
                for f in findings(c.state, c.due_date, today, calendar, self.th)
            }
            alarms = [
                a
                for a in found
                if newer(a.level, again.get((a.case_no, a.rule, a.due), set()))
                if (a.case_no and (a.rule in SCANNED_APART or (a.case_no, a.rule, a.level, a.due) in now_found))
                or (not a.case_no and a.department not in tx.zero_case_alarmed(a.division, a.period))
            ]
            alarms += self._reasons(tx)
            if alarms:
                records = [Record(Kind.SUPERVISION_ALARM, a.subject, alarm_body(a)) for a in alarms]
                entries = self.journal.append(tx, Stream.CASE, records, micros(now), tail)
                self.projection.apply(tx, entries)
        for a in alarms:
            self.log.info("supervision_alarm", rule=a.rule, level=a.level, case=a.case_no, division=a.division)
        record_silences(self.cases, silent, "电子监察", self.log)
        return ScanResult(alarms, looked)

    def _silent_reviewers(self, tx: Tx, silent: list[JointReviewRow]) -> list[Alarm]:
        """One alarm per case and due date for the co-reviewers of this node's joint reviews
        silent past it (the lead records their silence right after)."""
        held = tx.cases({r.case_no for r in silent})
        raised = tx.raised(list(held))
        groups: dict[tuple[str, str], list[JointReviewRow]] = {}
        for r in silent:
            groups.setdefault((r.case_no, r.due), []).append(r)
        out = []
        for (case_no, due), rows in groups.items():
            if not newer("yellow", raised.get((case_no, "reviewer", due), set())):
                continue
            state = held[case_no]
            names = "、".join(f"{r.name}({r.node})" for r in rows)
            reads = "、".join(sorted({JOINT_WORDS[r.silence] for r in rows}))
            detail = f"{names} 未在 {due} 前答复联审请求, 按联审方案视为{reads}"
            department = ",".join(r.department for r in rows)
            out.append(
                Alarm(
                    "reviewer",
                    "yellow",
                    state.handling_division,
                    case_no,
                    state.item_code,
                    self.me.code,
                    due,
                    detail,
                    department=department,
                )
            )
        return out

    def _case_findings(
        self,
        cases: list[StoredCase],
        raised: dict[tuple[str, str, str], set[str]],
        today: dt.date,
        calendar: WorkCalendar,
    ) -> list[Alarm]:
        out = []
        for c in cases:
            s = c.state
            for f in findings(s, c.due_date, today, calendar, self.th):
                if newer(f.level, raised.get((s.case_no, f.rule, f.due), set())):
                    alarm = Alarm(f.rule, f.level, s.handling_division, s.case_no, s.item_code, s.custodian, f.due)
                    out.append(replace(alarm, detail=f.detail))
        return out

    def _delay(self, case_no: str) -> str:
        """Who held a late case for how many working days (delay per tier and custodian)."""
        spans = self.cases.show(case_no).custody
        return "各级用时: " + ", ".join(f"{s.node} {s.working_days} 个工作日" for s in spans)

    def _reasons(self, tx: Tx) -> list[Alarm]:
        """This node's refusals and denials since the last scan whose reasons are too thin."""
        done = tx.relay_cursors().get((self.me.code, REASONS_CURSOR), 0)
        out: list[Alarm] = []
        last = done
        for e in tx.entries(self.me.code, Stream.CASE, done):
            last = e.seq
            if e.kind not in (Kind.CASE_NOT_ACCEPTED, Kind.CASE_DECIDED):
                continue
            rec = case_record(e.body)
            cmd = rec.command
            if isinstance(cmd, Decide) and cmd.approved:
                continue
            if isinstance(cmd, Reject | Decide) and thin_reasons(cmd.reason, self.th):
                state = tx.cases([rec.case_no]).get(rec.case_no)
                what = "不予受理" if isinstance(cmd, Reject) else "不予许可"
                out.append(
                    Alarm(
                        "reasons",
                        "yellow",
                        state.handling_division if state else self.me.code,
                        rec.case_no,
                        state.item_code if state else "",
                        self.me.code,
                        local_date(rec.at).isoformat(),
                        f"{what}的理由不足 {self.th.reason_min_chars} 个字, 未说明依据",
                    )
                )
        if last != done:
            tx.set_relay_cursor(self.me.code, REASONS_CURSOR, last)
        return out

    def _rectifications(self, tx: Tx, today: dt.date) -> list[Alarm]:
        """差评 of cases this node handled, not called back and rectified in time."""
        out: list[Alarm] = []
        tasks = [
            t for t in tx.rectifications(self.me.prefix, open_only=True, limit=10_000) if t.handling == self.me.code
        ]
        raised = tx.raised([t.case_no for t in tasks])
        calendar = self.calendar.get().for_division(self.me.code)
        for t in tasks:
            if t.level == 0:
                continue  # its evaluation has not arrived here yet
            due = self.rectification_due(t)
            if today <= due:
                continue
            late = working_days_between(calendar, due, today)
            level = "red" if late > self.th.red_days_late else "yellow"
            if not newer(level, raised.get((t.case_no, "rectification", due.isoformat()), set())):
                continue
            missing = [
                FOLLOW_UP_STEPS[s]
                for s, at in (("callback", t.called_back_at_us), ("rectified", t.rectified_at_us))
                if at is None
            ]
            out.append(
                Alarm(
                    "rectification",
                    level,
                    t.handling,
                    t.case_no,
                    t.item_code,
                    self.me.code,
                    due.isoformat(),
                    f"差评超过 {self.th.rectification_days} 个工作日未完成{'、'.join(missing)}",
                )
            )
        return out

    def rectification_due(self, t: RectificationRow) -> dt.date:
        opened = local_date(dt.datetime.fromtimestamp(t.opened_at_us / 1_000_000, dt.UTC))
        due, _ = self.calendar.get().for_division(t.handling).add_working_days(opened, self.th.rectification_days)
        return due

    def _zero_cases(self, tx: Tx, today: dt.date) -> list[Alarm]:
        """After a month ends: each department of this node's own catalog with items no case
        was filed for in it (零办件), once per month; 黄牌 when none of its items had a case."""
        first = today.replace(day=1)
        last_month = (first - dt.timedelta(days=1)).replace(day=1)
        period = last_month.strftime("%Y-%m")
        last_day = (first - dt.timedelta(days=1)).isoformat()
        month_start = micros(dt.datetime.combine(last_month, dt.time(), CHINA_TZ))
        items = [row for row in tx.catalog_under(self.me.prefix, month_start) if row[3] == self.me.code]
        if not items:
            return []
        filed = {
            item
            for item, counts in tx.item_sums(self.me.prefix, last_month.isoformat(), last_day).items()
            if counts["filed"]
        }
        done = tx.zero_case_alarmed(self.me.code, period)
        by_department: dict[str, list[str]] = {}
        for code, _, department, _ in items:
            by_department.setdefault(department, []).append(code)
        out: list[Alarm] = []
        for department, codes in sorted(by_department.items()):
            zero = [c for c in codes if c not in filed]
            if not zero or department in done:
                continue
            level = "yellow" if len(zero) == len(codes) else "warning"
            detail = f"{department}: {len(zero)}/{len(codes)} 项事项 {period} 零办件"
            out.append(Alarm("zero_cases", level, self.me.code, detail=detail, period=period, department=department))
        return out

    # -- what supervisors and handling nodes do -----------------------------------------------

    def acknowledge(self, origin: str, seq: int, by: str, note: str = "") -> SupervisionAlarmRow:
        """A supervisor's acknowledgement of an alarm this node holds, as an entry."""
        check_note(check("note", note, "reason"))
        now = self.clock()
        with self.store.transaction() as tx:
            tail = self.journal.lock(tx, Stream.CASE)
            alarm = tx.supervision_alarm(origin, seq)
            if alarm is None:
                raise NotFound("alarm", f"{origin}/{seq}")
            if not self.me.is_ancestor_of(DivisionCode(alarm.origin)):
                raise Forbidden(f"alarm {origin}:{seq} is acknowledged by a supervisor above {alarm.origin}, not here")
            if alarm.ack_at_us is not None:
                raise StateConflict(f"alarm {origin}/{seq} was acknowledged by {alarm.ack_by} already")
            body = ack_body(Acknowledgement(origin, seq, by, note))
            entries = self.journal.append(
                tx, Stream.CASE, [Record(Kind.ALARM_ACKNOWLEDGED, alarm.case_no, body)], micros(now), tail
            )
            self.projection.apply(tx, entries)
            found = tx.supervision_alarm(origin, seq)
        assert found is not None
        return found

    def follow_up(self, case_no: str, step: str, by: str, note: str = "") -> RectificationRow:
        """Record a 差评's callback (回访) or rectification (整改) at the node that handled it;
        the rectification comes after the callback."""
        check("case_no", case_no)
        check_note(check("note", note, "reason"))
        if step not in FOLLOW_UP_STEPS:
            raise InvalidInput("step", f"one of {', '.join(FOLLOW_UP_STEPS)}")
        now = self.clock()
        with self.store.transaction() as tx:
            tail = self.journal.lock(tx, Stream.CASE)
            task = tx.rectification(case_no)
            if task is None or task.level == 0:
                raise NotFound("差评 rectification task", case_no)
            if task.handling != self.me.code:
                raise StateConflict(f"case {case_no} was handled by {task.handling}: its follow-up is that node's")
            if step == "rectified" and task.called_back_at_us is None:
                raise StateConflict(
                    "call the resident back first (`yiwang review callback`), then record the rectification"
                )
            if (task.called_back_at_us if step == "callback" else task.rectified_at_us) is not None:
                raise StateConflict(f"the {FOLLOW_UP_STEPS[step]} of case {case_no} is recorded already")
            state = tx.cases([case_no])[case_no]
            f = FollowUp(
                case_no, step, by, note, state.handling_division, state.filing_division, state.item_code, state.channel
            )
            record = Record(FOLLOW_UP_KINDS[step], case_no, follow_up_body(f))
            entries = self.journal.append(tx, Stream.CASE, [record], micros(now), tail)
            self.projection.apply(tx, entries)
            found = tx.rectification(case_no)
        assert found is not None
        return found

    # -- reading -----------------------------------------------------------------------------

    def alarms(
        self, division: str = "", rule: str = "", level: str = "", open_only: bool = False, limit: int = 100
    ) -> list[SupervisionAlarmRow]:
        code = DivisionCode.parse(division or self.me.code, "--division")
        if not self.me.contains(code):
            raise InvalidInput("--division", f"{code} is not in this node's subtree ({self.me})")
        if rule and rule not in RULES:
            raise InvalidInput("--rule", f"one of {', '.join(RULES)}")
        if level and level not in LEVELS:
            raise InvalidInput("--level", f"one of {', '.join(LEVELS)}")
        if not 1 <= limit <= 10_000:
            raise InvalidInput("--limit", "1..10000")
        with self.store.read() as tx:
            return tx.supervision_alarms(code.prefix, rule, level, open_only, limit)

    def rectifications(self, division: str = "", open_only: bool = False, limit: int = 200) -> list[RectificationRow]:
        code = DivisionCode.parse(division or self.me.code, "--division")
        if not self.me.contains(code):
            raise InvalidInput("--division", f"{code} is not in this node's subtree ({self.me})")
        with self.store.read() as tx:
            return tx.rectifications(code.prefix, open_only, limit)

    def summary(
        self, division: str, first: dt.date, last: dt.date
    ) -> tuple[dict[tuple[str, str], int], tuple[int, int, int]]:
        """Alarms raised in the subtree from `first` to `last` per (rule, level), and the 差评
        rectification tasks opened then: (opened, called back, rectified)."""
        code = DivisionCode.parse(division or self.me.code, "--division")
        if not self.me.contains(code):
            raise InvalidInput("--division", f"{code} is not in this node's subtree ({self.me})")
        start = dt.datetime.combine(first, dt.time(), CHINA_TZ)
        end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), CHINA_TZ)
        with self.store.read() as tx:
            alarms = tx.alarm_counts(code.prefix, micros(start), micros(end))
            tasks = tx.rectification_counts(code.prefix, micros(start), micros(end))
        return alarms, tasks
