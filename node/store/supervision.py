"""Storage functions of electronic supervision and 好差评 follow-up (issue 11): the alarms the
projection keeps from `supervision_alarm` entries (cleared when their case resolves them,
acknowledged by `alarm_acknowledged` entries) and the rectification tasks of 差评. Derived
tables, written only through node.services.projection. Mixed into node.store.repo.Tx."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update

from node.domain.supervision import CLEARED_BY_ACK, Acknowledgement, Alarm
from node.store.base import TxBase
from node.store.tables import RECTIFICATIONS, SUPERVISION_ALARMS, RectificationRow, SupervisionAlarmRow


def _alarm_row(r: Sequence[object]) -> SupervisionAlarmRow:
    return SupervisionAlarmRow(**dict[str, Any](zip(SUPERVISION_ALARMS.c.keys(), r, strict=True)))


def _task_row(r: Sequence[object]) -> RectificationRow:
    return RectificationRow(**dict[str, Any](zip(RECTIFICATIONS.c.keys(), r, strict=True)))


class SupervisionTx(TxBase):
    # -- alarms -----------------------------------------------------------------------------

    def put_alarm(self, origin: str, seq: int, a: Alarm, at_us: int) -> None:
        """Keep an alarm (once: a replayed entry changes nothing). A case has at most one open
        alarm per rule: a newer finding (a higher card, a moved due date) supersedes the one open."""
        c = SUPERVISION_ALARMS.c
        if self.conn.execute(select(c.seq).where(c.origin == origin, c.seq == seq)).first() is not None:
            return
        self.conn.execute(
            insert(SUPERVISION_ALARMS).values(
                origin=origin,
                seq=seq,
                rule=a.rule,
                level=a.level,
                case_no=a.case_no,
                division=a.division,
                item_code=a.item_code,
                custodian=a.custodian,
                due=a.due,
                period=a.period,
                department=a.department,
                detail=a.detail,
                raised_at_us=at_us,
                ack_by="",
                ack_note="",
            )
        )
        if a.case_no:
            self.conn.execute(
                update(SUPERVISION_ALARMS)
                .where(c.case_no == a.case_no, c.rule == a.rule, c.cleared_at_us.is_(None))
                .where((c.origin != origin) | (c.seq != seq))
                .values(cleared_at_us=at_us)
            )

    def acknowledge_alarm(self, ack: Acknowledgement, at_us: int) -> bool:
        """Record an acknowledgement; the rules only a supervisor resolves are cleared by it.
        False when the alarm is not here."""
        c = SUPERVISION_ALARMS.c
        row = self.conn.execute(select(c.rule).where(c.origin == ack.origin, c.seq == ack.seq)).first()
        if row is None:
            return False
        values: dict[str, object] = {"ack_by": ack.by, "ack_at_us": at_us, "ack_note": ack.note}
        q = update(SUPERVISION_ALARMS).where(c.origin == ack.origin, c.seq == ack.seq)
        self.conn.execute(q.values(**values))
        if row[0] in CLEARED_BY_ACK:
            self.conn.execute(q.where(c.cleared_at_us.is_(None)).values(cleared_at_us=at_us))
        return True

    def clear_case_alarms(self, resolved: Mapping[str, tuple[frozenset[str], int]]) -> int:
        """Clear the open alarms of cases whose state resolves their rule: case number ->
        (rules resolved, when). One lookup for all the cases, an update only where alarms are open."""
        if not resolved:
            return 0
        cases = list(resolved)
        found: list[tuple[str, int, str, str]] = []
        for start in range(0, len(cases), 500):  # plain SQL: this runs with every case command
            chunk = cases[start : start + 500]
            sql = (
                "SELECT origin, seq, case_no, rule FROM supervision_alarms WHERE cleared_at_us IS NULL "
                f"AND case_no IN ({','.join([self._mark] * len(chunk))})"
            )
            found += [(r[0], r[1], r[2], r[3]) for r in self.conn.exec_driver_sql(sql, tuple(chunk))]
        c = SUPERVISION_ALARMS.c
        cleared = 0
        for origin, seq, case_no, rule in found:
            rules, at_us = resolved[case_no]
            if rule in rules:
                self.conn.execute(
                    update(SUPERVISION_ALARMS).where(c.origin == origin, c.seq == seq).values(cleared_at_us=at_us)
                )
                cleared += 1
        return cleared

    def clear_rule(self, case_no: str, rule: str, at_us: int) -> None:
        c = SUPERVISION_ALARMS.c
        self.conn.execute(
            update(SUPERVISION_ALARMS)
            .where(c.case_no == case_no, c.rule == rule, c.cleared_at_us.is_(None))
            .values(cleared_at_us=at_us)
        )

    def raised(self, case_nos: Collection[str]) -> dict[tuple[str, str, str], set[str]]:
        """Levels raised so far per (case, rule, due date), cleared or not, for these cases."""
        c = SUPERVISION_ALARMS.c
        out: dict[tuple[str, str, str], set[str]] = {}
        for start in range(0, len(case_nos), 500):
            chunk = list(case_nos)[start : start + 500]
            for case_no, rule, due, level in self.conn.execute(
                select(c.case_no, c.rule, c.due, c.level).where(c.case_no.in_(chunk))
            ):
                out.setdefault((case_no, rule, due), set()).add(level)
        return out

    def zero_case_alarmed(self, division: str, period: str) -> set[str]:
        """Departments a 零办件 alarm names for this division and month."""
        c = SUPERVISION_ALARMS.c
        q = select(c.department).where(c.rule == "zero_cases", c.division == division, c.period == period)
        return {r[0] for r in self.conn.execute(q)}

    def supervision_alarms(
        self, prefix: str, rule: str = "", level: str = "", open_only: bool = False, limit: int = 100
    ) -> list[SupervisionAlarmRow]:
        """Alarms of divisions under `prefix`, newest first."""
        c = SUPERVISION_ALARMS.c
        q = select(SUPERVISION_ALARMS).where(c.division.startswith(prefix, autoescape=True))
        if rule:
            q = q.where(c.rule == rule)
        if level:
            q = q.where(c.level == level)
        if open_only:
            q = q.where(c.cleared_at_us.is_(None))
        q = q.order_by(c.raised_at_us.desc(), c.origin, c.seq.desc()).limit(limit)
        return [_alarm_row(r) for r in self.conn.execute(q)]

    def supervision_alarm(self, origin: str, seq: int) -> SupervisionAlarmRow | None:
        c = SUPERVISION_ALARMS.c
        r = self.conn.execute(select(SUPERVISION_ALARMS).where(c.origin == origin, c.seq == seq)).first()
        return None if r is None else _alarm_row(r)

    def open_limit_alarms(self, prefix: str) -> dict[str, int]:
        """Open whole-case limit alarms under `prefix` per level (a case has one open at most)."""
        c = SUPERVISION_ALARMS.c
        q = (
            select(c.level, func.count())
            .where(c.rule == "limit", c.cleared_at_us.is_(None), c.division.startswith(prefix, autoescape=True))
            .group_by(c.level)
        )
        return {str(level): int(n) for level, n in self.conn.execute(q)}

    def alarm_counts(self, prefix: str, first_us: int, last_us: int) -> dict[tuple[str, str], int]:
        """Alarms raised under `prefix` in a time range, per (rule, level)."""
        c = SUPERVISION_ALARMS.c
        q = (
            select(c.rule, c.level, func.count())
            .where(c.division.startswith(prefix, autoescape=True), c.raised_at_us >= first_us, c.raised_at_us < last_us)
            .group_by(c.rule, c.level)
        )
        return {(str(r), str(lv)): int(n) for r, lv, n in self.conn.execute(q)}

    # -- rectification tasks ----------------------------------------------------------------

    def open_rectification(
        self, case_no: str, handling: str, item_code: str, level: int, causes: Sequence[str], at_us: int
    ) -> None:
        """A 差评 opens its case's task (a second evaluation of the same case cannot happen); a
        task a follow-up step made first (it came by another path) gets its level and causes."""
        c = RECTIFICATIONS.c
        found = self.conn.execute(select(c.level).where(c.case_no == case_no)).first()
        if found is not None:
            if found[0] == 0:
                self.conn.execute(
                    update(RECTIFICATIONS)
                    .where(c.case_no == case_no)
                    .values(level=level, causes=",".join(causes), opened_at_us=at_us)
                )
            return
        self.conn.execute(
            insert(RECTIFICATIONS).values(
                case_no=case_no,
                handling=handling,
                item_code=item_code,
                level=level,
                causes=",".join(causes),
                opened_at_us=at_us,
                note="",
            )
        )

    def rectification(self, case_no: str) -> RectificationRow | None:
        r = self.conn.execute(select(RECTIFICATIONS).where(RECTIFICATIONS.c.case_no == case_no)).first()
        return None if r is None else _task_row(r)

    def follow_up(self, case_no: str, step: str, at_us: int, note: str, handling: str, item_code: str) -> None:
        """Record a callback or rectification (a task is made, level 0, when the step comes
        before the evaluation that opens it)."""
        c = RECTIFICATIONS.c
        self.open_rectification(case_no, handling, item_code, 0, (), at_us)
        column = "called_back_at_us" if step == "callback" else "rectified_at_us"
        values: dict[str, object] = {column: at_us}
        if note:
            values["note"] = note
        self.conn.execute(update(RECTIFICATIONS).where(c.case_no == case_no).values(**values))

    def rectifications(
        self, prefix: str, open_only: bool = False, limit: int = 200, handling: str = ""
    ) -> list[RectificationRow]:
        """Tasks of cases handled under `prefix` (or by `handling` alone), oldest first."""
        c = RECTIFICATIONS.c
        q = select(RECTIFICATIONS).where(c.handling.startswith(prefix, autoescape=True))
        if handling:
            q = q.where(c.handling == handling)
        if open_only:
            q = q.where(or_(c.called_back_at_us.is_(None), c.rectified_at_us.is_(None)))
        return [_task_row(r) for r in self.conn.execute(q.order_by(c.opened_at_us, c.case_no).limit(limit))]

    def rectification_counts(self, prefix: str, first_us: int, last_us: int) -> tuple[int, int, int]:
        """(opened, called back, rectified) of the tasks opened under `prefix` in a time range."""
        c = RECTIFICATIONS.c
        where = and_(
            c.handling.startswith(prefix, autoescape=True), c.opened_at_us >= first_us, c.opened_at_us < last_us
        )
        q = select(func.count(), func.count(c.called_back_at_us), func.count(c.rectified_at_us)).where(where)
        opened, called, fixed = self.conn.execute(q).one()
        return int(opened), int(called), int(fixed)
