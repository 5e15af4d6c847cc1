"""Calendar use cases: publish a year's working-day calendar, show a period.

Publishing writes a `calendar_published` entry to the public stream and, in the same
transaction, recomputes the due dates of open cases that rested on the Monday-Friday fallback
or fall in the published year, so a provisional due date becomes final.

Local holidays (DESIGN.md section 9): the province delegates them to a division of its tree
(`calendar_delegated`, e.g. Liangshan for 彝族年), which then publishes them for its own subtree
(`local_calendar_published`); due dates of the open cases handled there move.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from federation.wire.codec_catalog import calendar_to_pb, delegation_body
from node import logs
from node.domain.bounds import check
from node.domain.calendar import CalendarYear, builtin_covers, changes_against_builtin
from node.domain.divisions import DivisionCode, Tier
from node.domain.entries import Kind, Stream
from node.domain.errors import Forbidden, InvalidInput
from node.journal import Journal, Record
from node.services.divisions import DivisionService
from node.services.ports import CalendarCache, Clock
from node.services.projection import Projection
from node.store import Store


@dataclass(frozen=True)
class DayInfo:
    day: dt.date
    workday: bool
    provisional: bool


@dataclass(frozen=True)
class PublishResult:
    year: int
    seq: int
    due_dates_recomputed: int
    changed_days: tuple[tuple[dt.date, bool], ...] = ()  # against the built-in calendar: (day, working day now)


class CalendarService:
    def __init__(
        self,
        me: DivisionCode,
        store: Store,
        journal: Journal,
        projection: Projection,
        clock: Clock,
        calendar: CalendarCache,
        divisions: DivisionService,
    ) -> None:
        self.me, self.store, self.journal, self.divisions = me, store, journal, divisions
        self.projection, self.clock, self.calendar = projection, clock, calendar
        self.log = logs.get("calendar")

    def publish(self, year: CalendarYear, override: bool = False) -> PublishResult:
        """Publish a year for the whole province (DESIGN.md section 9): only the province may,
        and a year the built-in calendar covers is replaced only with `override`."""
        if self.me.tier != Tier.PROVINCE:
            raise Forbidden(
                f"only the province publishes the working-day calendar; {self.me} is a {self.me.tier.label}"
            )
        changed = tuple(changes_against_builtin(year)) if builtin_covers(year.year) else ()
        if builtin_covers(year.year) and not override:
            raise InvalidInput(
                "--override",
                f"the built-in calendar covers {year.year} and this one changes {len(changed)} of its days "
                "for every node of the province; add --override to publish it",
            )
        now = self.clock()
        with self.store.transaction() as tx:
            # Both streams: the entry goes to `public`, and due dates of cases change, which
            # `case` writers must not do at the same time. Every writer that takes both takes
            # case first, then public (a batch, a delivery, this): none waits crosswise.
            self.journal.lock(tx, Stream.CASE)
            tail = self.journal.lock(tx, Stream.PUBLIC)
            body = calendar_to_pb(year).SerializeToString()
            (entry,) = self.journal.append(
                tx,
                Stream.PUBLIC,
                [Record(Kind.CALENDAR_PUBLISHED, str(year.year), body)],
                int(now.timestamp() * 1_000_000),
                tail,
            )
            moved = self.projection.apply(tx, [entry]).due_dates_moved
        self.calendar.forget()
        self.log.info("calendar_published", year=year.year, seq=entry.seq, recomputed=moved)
        return PublishResult(year.year, entry.seq, moved, changed)

    def delegate(self, division: str, allowed: bool = True, note: str = "") -> int:
        """The province lets `division` publish local holidays for its subtree (or stops it);
        returns the public entry's seq."""
        if self.me.tier != Tier.PROVINCE:
            raise Forbidden(f"only the province delegates local holidays; {self.me} is a {self.me.tier.label}")
        code = DivisionCode.parse(division, "DIVISION")
        if not self.me.is_ancestor_of(code):
            raise InvalidInput("DIVISION", f"{code} is not a division below {self.me}")
        self.divisions.require(code, "DIVISION")
        check("--note", note, "reason")
        return self._write(Kind.CALENDAR_DELEGATED, code.code, delegation_body(code.code, allowed, note.strip()))

    def publish_local(self, year: CalendarYear) -> int:
        """This division's local holidays (and adjusted workdays) for its subtree; it needs the
        province's delegation. Returns the public entry's seq."""
        with self.store.read() as tx:
            delegated = tx.delegated(self.me.code)
        if not delegated:
            raise Forbidden(
                f"the province has not delegated local holidays to {self.me}: "
                f"its operator runs `yiwang calendar delegate {self.me}` first"
            )
        return self._write(Kind.LOCAL_CALENDAR_PUBLISHED, str(year.year), calendar_to_pb(year).SerializeToString())

    def _write(self, kind: str, subject: str, body: bytes) -> int:
        now = self.clock()
        with self.store.transaction() as tx:
            self.journal.lock(tx, Stream.CASE)  # due dates move: as `publish`, case then public
            tail = self.journal.lock(tx, Stream.PUBLIC)
            (entry,) = self.journal.append(
                tx, Stream.PUBLIC, [Record(kind, subject, body)], int(now.timestamp() * 1_000_000), tail
            )
            self.projection.apply(tx, [entry])
        self.calendar.forget()
        self.log.info(kind, subject=subject, seq=entry.seq)
        return entry.seq

    def days(self, start: dt.date, end: dt.date) -> list[DayInfo]:
        cal = self.calendar.get().for_division(self.me.code)
        out = []
        day = start
        while day <= end:
            workday, provisional = cal.lookup(day)
            out.append(DayInfo(day, workday, provisional))
            day += dt.timedelta(days=1)
        return out
