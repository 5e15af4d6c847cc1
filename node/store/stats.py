"""Storage functions of the statistics (issue 11): the counters the projection adds to (per day
in `case_counts`, per month and level in `case_rollups`, per month, county and item in
`item_rollups`, all in the same statement batch), the sums `yiwang stats` reads, and the catalog
items no case used (read beside the counters). Mixed into node.store.repo.Tx."""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, func, insert, select, update

from node.domain.counting import COUNTERS, CountKey
from node.domain.divisions import PREFIX_LEN, DivisionCode, Tier
from node.store.base import TxBase
from node.store.tables import CASE_COUNTS, CASE_ROLLUPS, CATALOG_ITEMS, ENTRIES, ITEM_ROLLUPS, SIGNOFFS, SignOffRow

STATS_TABLES = (CASE_COUNTS, CASE_ROLLUPS, ITEM_ROLLUPS, SIGNOFFS)
_KEY = ("day", "handling", "filing", "item_code", "channel")
_ROLLUP_KEY = ("month", "level", "division", "channel", "peer")
_ITEM_KEY = ("month", "county", "item_code", "channel")
Counts = dict[str, int]


@functools.lru_cache(maxsize=65536)
def rollup_cuts(handling: str) -> tuple[tuple[int, str], ...]:
    """(level, division) rows a case handled in `handling` adds to: its division cut to every
    level down to its own, and one below (where its own cases show as 本级)."""
    tier = DivisionCode(handling).tier
    return tuple(
        (level, handling[: PREFIX_LEN[Tier(level)]].ljust(12, "0"))
        for level in range(1, min(tier + 1, Tier.VILLAGE) + 1)
    )


def _add(into: dict[tuple[Any, ...], Counts], key: tuple[Any, ...], counts: Mapping[str, int]) -> None:
    row = into.setdefault(key, {})
    for name, n in counts.items():
        if n:
            row[name] = row.get(name, 0) + n


class StatsTx(TxBase):
    def add_counts(self, deltas: Mapping[CountKey, Mapping[str, int]]) -> None:
        """Add to the counters of each key, its month's rollups and its item's (a row is made at
        its first count)."""
        rollups: dict[tuple[Any, ...], Counts] = {}
        items: dict[tuple[Any, ...], Counts] = {}
        days: dict[tuple[Any, ...], Counts] = {}
        for key, counts in deltas.items():
            month = key.day[:7]
            _add(days, (key.day, key.handling, key.filing, key.item_code, key.channel), counts)
            peer = key.filing[:2] if key.filing[:2] != key.handling[:2] else ""
            for level, division in rollup_cuts(key.handling):
                _add(rollups, (month, level, division, key.channel, peer), counts)
            _add(items, (month, key.handling[:6].ljust(12, "0"), key.item_code, key.channel), counts)
        self._flag_signed(days)
        self._upsert_add("case_counts", _KEY, days)
        self._upsert_add("case_rollups", _ROLLUP_KEY, rollups)
        self._upsert_add("item_rollups", _ITEM_KEY, items)

    def _flag_signed(self, days: Mapping[tuple[Any, ...], Counts]) -> None:
        """Flag the counter changes (their sum, so however the entries were batched) to months a
        division signed off already."""
        months = sorted({key[0][:7] for key in days})
        c = SIGNOFFS.c
        sql = f"SELECT period, division FROM signoffs WHERE period IN ({','.join([self._mark] * len(months))})"
        signed = [(r[0], r[1]) for r in self.conn.exec_driver_sql(sql, tuple(months))]  # plain SQL: every command
        if not signed:
            return
        flags: dict[tuple[str, str], int] = {}
        for (day, handling, *_), counts in days.items():
            changed = sum(n for name, n in counts.items() if name != "work_days")
            for period, division in signed:
                if day[:7] == period and handling.startswith(DivisionCode(division).prefix):
                    flags[(period, division)] = flags.get((period, division), 0) + changed
        for (period, division), n in flags.items():
            self.conn.execute(
                update(SIGNOFFS)
                .where(c.period == period, c.division == division)
                .values(changes_after=c.changes_after + n)
            )

    def put_signoff(
        self,
        period: str,
        division: str,
        seq: int,
        entry_hash: bytes,
        by: str,
        at_us: int,
        counts: Mapping[str, int],
        children: Sequence[tuple[str, int, str]],
    ) -> None:
        """Keep a sign-off (once: a replayed entry changes nothing)."""
        c = SIGNOFFS.c
        if self.conn.execute(select(c.seq).where(c.period == period, c.division == division)).first():
            return
        self.conn.execute(
            insert(SIGNOFFS).values(
                period=period,
                division=division,
                seq=seq,
                entry_hash=entry_hash,
                signed_by=by,
                signed_at_us=at_us,
                counts=dict(counts),
                children=[list(child) for child in children],
                changes_after=0,
            )
        )

    def signoffs(self, period: str, prefix: str = "") -> list[SignOffRow]:
        """The sign-offs of a month by divisions under `prefix` (and their ancestors here: all
        when `prefix` is empty), by division."""
        c = SIGNOFFS.c
        q = select(SIGNOFFS).where(c.period == period)
        if prefix:
            q = q.where(c.division.startswith(prefix, autoescape=True))
        rows = self.conn.execute(q.order_by(c.division)).all()
        return [SignOffRow(**dict(zip(SIGNOFFS.c.keys(), r, strict=True))) for r in rows]

    def _upsert_add(self, table: str, key: Sequence[str], rows: Mapping[tuple[Any, ...], Counts]) -> None:
        """One statement per distinct set of counters, executed for all their keys at the driver."""
        by_columns: dict[tuple[str, ...], list[tuple[object, ...]]] = {}
        for k, counts in rows.items():
            columns = tuple(c for c in COUNTERS if counts.get(c))
            if columns:
                by_columns.setdefault(columns, []).append((*k, *(counts[c] for c in columns)))
        for columns, values in by_columns.items():
            names = (*key, *columns)
            marks = ",".join([self._mark] * len(names))
            added = ",".join(f"{c} = {table}.{c} + excluded.{c}" for c in columns)
            zeros = [c for c in COUNTERS if c not in columns]
            sql = (
                f"INSERT INTO {table} ({','.join((*names, *zeros))}) VALUES ({marks}{',0' * len(zeros)}) "
                f"ON CONFLICT ({','.join(key)}) DO UPDATE SET {added}"
            )
            self.conn.exec_driver_sql(sql, list(values))

    def _sums(self, table: Table, group: ColumnElement[Any], where: Iterable[ColumnElement[bool]]) -> dict[str, Counts]:
        q = select(group.label("g"), *(func.coalesce(func.sum(getattr(table.c, n)), 0) for n in COUNTERS))
        rows = self.conn.execute(q.where(*where).group_by(group)).all()
        return {str(r[0] or ""): dict(zip(COUNTERS, (int(v) for v in r[1:]), strict=True)) for r in rows}

    def rollup_sums(
        self, level: int, prefix: str, months: Collection[str] | None, channel: str = "", peers_only: bool = False
    ) -> dict[str, Counts]:
        """Counter sums from the month rollups at `level` of the divisions under `prefix`, per
        division (cut to `level`): `months` as YYYY-MM (None: all); only cases filed in another
        province with `peers_only`."""
        c = CASE_ROLLUPS.c
        where = [c.level == level, c.division.startswith(prefix, autoescape=True)]
        if months is not None:
            where.append(c.month.in_(sorted(months)))
        if channel:
            where.append(c.channel == channel)
        if peers_only:
            where.append(c.peer != "")
        return self._sums(CASE_ROLLUPS, c.division, where)

    def item_rollup_sums(
        self, digits: int, prefix: str, months: Collection[str], items: Collection[str], channel: str = ""
    ) -> dict[str, Counts]:
        """Counter sums of `items` from the month-county-item rollups of the counties under
        `prefix`, per county code cut to its first `digits` digits (0: one total)."""
        c = ITEM_ROLLUPS.c
        where = [
            c.county.startswith(prefix, autoescape=True),
            c.month.in_(sorted(months)),
            c.item_code.in_(sorted(items)),
        ]
        if channel:
            where.append(c.channel == channel)
        return self._sums(ITEM_ROLLUPS, func.substr(c.county, 1, digits), where)

    def day_sums(
        self,
        digits: int,
        prefix: str,
        first_day: str,
        last_day: str,
        items: Collection[str] | None = None,
        channel: str = "",
        peers_only: bool = False,
    ) -> dict[str, Counts]:
        """Counter sums from the day rows of the cases handled under `prefix` from `first_day`
        to `last_day` (ISO, inclusive), per handling division cut to its first `digits` digits
        (0: one total); only `items` when given; only cases filed in another province with
        `peers_only`."""
        c = CASE_COUNTS.c
        where = [c.handling.startswith(prefix, autoescape=True), c.day >= first_day, c.day <= last_day]
        if items is not None:
            where.append(c.item_code.in_(sorted(items)))
        if channel:
            where.append(c.channel == channel)
        if peers_only:
            where.append(func.substr(c.filing, 1, 2) != func.substr(c.handling, 1, 2))
        return self._sums(CASE_COUNTS, func.substr(c.handling, 1, digits), where)

    def day_series(self, prefix: str, first_day: str, last_day: str) -> dict[str, Counts]:
        """Counter sums per day of the cases handled under `prefix` (a chart of a period)."""
        c = CASE_COUNTS.c
        where = [c.handling.startswith(prefix, autoescape=True), c.day >= first_day, c.day <= last_day]
        return self._sums(CASE_COUNTS, c.day, where)

    def item_sums(self, prefix: str, first_day: str, last_day: str) -> dict[str, Counts]:
        """Counter sums per item of the cases handled under `prefix` in a period (day rows)."""
        c = CASE_COUNTS.c
        where = [c.handling.startswith(prefix, autoescape=True), c.day >= first_day, c.day <= last_day]
        return self._sums(CASE_COUNTS, c.item_code, where)

    def item_rollup_by_item(self, prefix: str, months: Collection[str]) -> dict[str, Counts]:
        """Counter sums per item from the month-county-item rollups under `prefix`."""
        c = ITEM_ROLLUPS.c
        where = [c.county.startswith(prefix, autoescape=True), c.month.in_(sorted(months))]
        return self._sums(ITEM_ROLLUPS, c.item_code, where)

    def item_codes(self, department: str = "", power_type: str = "", item: str = "") -> set[str]:
        """Implementation codes of the catalog items that match a department, power type or
        code (any division's: a case may be handled below the division that published its item)."""
        i = CATALOG_ITEMS.c
        q = select(i.implementation_code)
        if department:
            q = q.where(i.department == department)
        if power_type:
            q = q.where(i.power_type == power_type)
        if item:
            q = q.where(i.implementation_code == item)
        return {r[0] for r in self.conn.execute(q)}

    def item_limits(self, codes: Collection[str]) -> dict[str, tuple[str, str, int | None, int | None]]:
        """(name, department, promised days, legal days) of catalog items by code."""
        i = CATALOG_ITEMS.c
        q = select(i.implementation_code, i.name, i.department, i.promised_limit_days, i.legal_limit_days)
        return {
            r[0]: (r[1], r[2], r[3], r[4]) for r in self.conn.execute(q.where(i.implementation_code.in_(sorted(codes))))
        }

    def catalog_under(self, prefix: str, published_before_us: int | None = None) -> list[tuple[str, str, str, str]]:
        """(implementation code, name, department, division) of the catalog items of the
        divisions under `prefix` (published before a time, when given), by department and code."""
        i, e = CATALOG_ITEMS.c, ENTRIES.c
        q = select(i.implementation_code, i.name, i.department, i.division_code).where(
            i.division_code.startswith(prefix, autoescape=True)
        )
        if published_before_us is not None:  # the entry that published the item's current version
            q = q.join(ENTRIES, (e.origin == i.origin) & (e.stream == "public") & (e.seq == i.seq)).where(
                e.recorded_at_us < published_before_us
            )
        return [(r[0], r[1], r[2], r[3]) for r in self.conn.execute(q.order_by(i.department, i.implementation_code))]

    def count_rows(self) -> list[Sequence[object]]:
        """Every counter row, in key order (to compare a recount)."""
        return [
            tuple(r)
            for r in self.conn.execute(select(CASE_COUNTS).order_by(*(getattr(CASE_COUNTS.c, k) for k in _KEY)))
        ]
