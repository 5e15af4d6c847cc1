"""Storage functions of the statistics (issue 11): the `case_counts` table the projection adds
to, the sums `yiwang stats` reads, and the catalog items no case used (read beside the
counters). Mixed into node.store.repo.Tx."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import func, select

from node.domain.counting import COUNTERS, CountKey
from node.store.base import TxBase
from node.store.tables import CaseCountRow, CatalogItemRow, table_of

T_COUNTS = table_of(CaseCountRow)
T_ITEMS = table_of(CatalogItemRow)
_KEY = ("day", "handling", "filing", "item_code", "channel")


class StatsTx(TxBase):
    def add_counts(self, deltas: Mapping[CountKey, Mapping[str, int]]) -> None:
        """Add to the counters of each key (a row is made at its first count): one statement
        per distinct set of counters, executed for all their keys at the driver."""
        by_columns: dict[tuple[str, ...], list[tuple[object, ...]]] = {}
        for key, counts in deltas.items():
            columns = tuple(c for c in COUNTERS if counts.get(c))
            if columns:
                row = (key.day, key.handling, key.filing, key.item_code, key.channel)
                by_columns.setdefault(columns, []).append((*row, *(counts[c] for c in columns)))
        for columns, rows in by_columns.items():
            names = (*_KEY, *columns)
            marks = ",".join([self._mark] * len(names))
            added = ",".join(f"{c} = case_counts.{c} + excluded.{c}" for c in columns)
            zeros = [c for c in COUNTERS if c not in columns]
            sql = (
                f"INSERT INTO case_counts ({','.join((*names, *zeros))}) VALUES ({marks}{',0' * len(zeros)}) "
                f"ON CONFLICT ({','.join(_KEY)}) DO UPDATE SET {added}"
            )
            self.conn.exec_driver_sql(sql, list(rows))

    def count_sums(
        self, prefix: str, first_day: str, last_day: str, group_digits: int = 0, item: str = ""
    ) -> list[tuple[str, dict[str, int]]]:
        """Counter sums of the cases handled under `prefix` (a division code without its
        trailing zero levels) from `first_day` to `last_day` (ISO dates, inclusive), grouped by
        the first `group_digits` digits of the handling division (0: one total)."""
        c = T_COUNTS.c
        group = func.substr(c.handling, 1, group_digits) if group_digits else func.substr(c.handling, 1, 0)
        q = select(group.label("g"), *(func.coalesce(func.sum(getattr(c, n)), 0) for n in COUNTERS))
        q = q.where(c.handling.startswith(prefix, autoescape=True), c.day >= first_day, c.day <= last_day)
        if item:
            q = q.where(c.item_code == item)
        rows = self.conn.execute(q.group_by(group).order_by(group)).all()
        return [(str(r[0] or ""), dict(zip(COUNTERS, (int(v) for v in r[1:]), strict=True))) for r in rows]

    def zero_case_items(self, prefix: str, first_day: str, last_day: str) -> list[tuple[str, str, str]]:
        """(implementation code, name, department) of the catalog items of divisions under
        `prefix` with no case filed in the period (零办件), by department."""
        c, i = T_COUNTS.c, T_ITEMS.c
        filed = (
            select(c.item_code)
            .where(c.day >= first_day, c.day <= last_day, c.filed > 0)
            .where(c.handling.startswith(prefix, autoescape=True))
        )
        q = (
            select(i.implementation_code, i.name, i.department)
            .where(i.division_code.startswith(prefix, autoescape=True), i.implementation_code.not_in(filed))
            .order_by(i.department, i.implementation_code)
        )
        return [(r[0], r[1], r[2]) for r in self.conn.execute(q)]

    def count_rows(self) -> list[Sequence[object]]:
        """Every counter row, in key order (to compare a recount)."""
        return [tuple(r) for r in self.conn.execute(select(T_COUNTS).order_by(*(getattr(T_COUNTS.c, k) for k in _KEY)))]
