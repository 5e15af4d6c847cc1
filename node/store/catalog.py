"""Storage functions for the catalog and calendars (derived: written by the projection) and
the node's counters (the catalog version, the bus relay's cursors), with the item mappers.
Mixed into node.store.repo.Tx."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict

from sqlalchemy import (
    Table,
    and_,
    bindparam,
    delete,
    insert,
    select,
    update,
)

from node.domain.calendar import CalendarYear, WorkCalendar
from node.domain.catalog import CatalogItem, Material
from node.domain.joint_review import plan_from_dict
from node.store.base import DbRow, TxBase
from node.store.tables import (
    CALENDAR_DELEGATIONS,
    CALENDARS,
    CATALOG_ITEMS,
    DIVISIONS,
    LOCAL_CALENDARS,
    NODE_META,
)

_ITEM_DETAIL_FIELDS = ("service_objects", "handling_forms", "conditions", "fee", "legal_basis")


def item_row(item: CatalogItem, origin: str, seq: int) -> dict[str, object]:
    details: dict[str, object] = {f: getattr(item, f) for f in _ITEM_DETAIL_FIELDS}
    details["service_objects"] = list(item.service_objects)
    details["handling_forms"] = list(item.handling_forms)
    details["materials"] = [asdict(m) for m in item.materials]
    if item.joint_review is not None:
        details["joint_review"] = item.joint_review.to_dict()
    return {
        "implementation_code": item.implementation_code,
        "basic_code": item.basic_code,
        "name": item.name,
        "power_type": item.power_type,
        "division_code": item.division_code,
        "department": item.department,
        "dept_credit_code": item.dept_credit_code,
        "use_level": item.use_level,
        "case_type": item.case_type,
        "legal_limit_days": item.legal_limit_days,
        "promised_limit_days": item.promised_limit_days,
        "agent_allowed": item.agent_allowed,
        "cross_region": item.cross_region,
        "group_name": item.group,
        "limits_source": item.limits_source,
        "details": details,
        "origin": origin,
        "seq": seq,
    }


def item_from_row(r: DbRow) -> CatalogItem:
    d = r.details
    return CatalogItem(
        basic_code=r.basic_code,
        implementation_code=r.implementation_code,
        name=r.name,
        power_type=r.power_type,
        division_code=r.division_code,
        department=r.department,
        dept_credit_code=r.dept_credit_code,
        use_level=r.use_level,
        service_objects=tuple(d.get("service_objects", ())),
        handling_forms=tuple(d.get("handling_forms", ())),
        case_type=r.case_type,
        legal_limit_days=r.legal_limit_days,
        promised_limit_days=r.promised_limit_days,
        conditions=d.get("conditions", ""),
        materials=tuple(Material(**m) for m in d.get("materials", ())),
        fee=d.get("fee", ""),
        legal_basis=d.get("legal_basis", ""),
        agent_allowed=r.agent_allowed,
        cross_region=r.cross_region,
        group=r.group_name,
        limits_source=r.limits_source,
        joint_review=plan_from_dict(d["joint_review"]) if d.get("joint_review") else None,
    )


class CatalogTx(TxBase):
    # -- catalog --------------------------------------------------------------------------

    def items(self, codes: Iterable[str]) -> dict[str, CatalogItem]:
        wanted = list(set(codes))
        out: dict[str, CatalogItem] = {}
        for i in range(0, len(wanted), 500):
            rows = self.conn.execute(
                select(CATALOG_ITEMS).where(CATALOG_ITEMS.c.implementation_code.in_(wanted[i : i + 500]))
            ).all()
            out.update({r.implementation_code: item_from_row(r) for r in rows})
        return out

    def items_with_origin(self, basic_codes: Iterable[str]) -> list[tuple[CatalogItem, str]]:
        wanted = list(set(basic_codes))
        out: list[tuple[CatalogItem, str]] = []
        for i in range(0, len(wanted), 500):
            rows = self.conn.execute(
                select(CATALOG_ITEMS).where(CATALOG_ITEMS.c.basic_code.in_(wanted[i : i + 500]))
            ).all()
            out.extend((item_from_row(r), r.origin) for r in rows)
        return out

    def relay_cursors(self) -> dict[tuple[str, str], int]:
        """How far the event-bus relay has published each stream."""
        rows = self.conn.execute(select(NODE_META).where(NODE_META.c.key.startswith("relay:"))).all()
        out = {}
        for r in rows:
            _, origin, stream = r.key.split(":")
            out[(origin, stream)] = int(r.value)
        return out

    def set_relay_cursor(self, origin: str, stream: str, seq: int) -> None:
        key = f"relay:{origin}:{stream}"
        if self.conn.execute(select(NODE_META.c.key).where(NODE_META.c.key == key)).first() is None:
            self.conn.execute(insert(NODE_META), {"key": key, "value": seq})
        else:
            self.conn.execute(update(NODE_META).where(NODE_META.c.key == key).values(value=seq))

    def catalog_version(self) -> int:
        value = self.conn.execute(select(NODE_META.c.value).where(NODE_META.c.key == "catalog_version")).scalar()
        return int(value or 0)

    def put_items(self, rows: Sequence[Mapping[str, object]]) -> None:
        """Insert or replace catalog rows (a re-published item replaces its older version; of
        one item given twice the later row counts) and move the catalog version."""
        if not rows:
            return
        rows = list({r["implementation_code"]: r for r in rows}.values())
        version = self.catalog_version()
        if version == 0:
            self.conn.execute(insert(NODE_META), {"key": "catalog_version", "value": 1})
        else:
            self.conn.execute(update(NODE_META).where(NODE_META.c.key == "catalog_version").values(value=version + 1))
        codes = [r["implementation_code"] for r in rows]
        existing: set[str] = set()
        for i in range(0, len(codes), 500):
            existing.update(
                self.conn.execute(
                    select(CATALOG_ITEMS.c.implementation_code).where(
                        CATALOG_ITEMS.c.implementation_code.in_(codes[i : i + 500])
                    )
                ).scalars()
            )
        new = [r for r in rows if r["implementation_code"] not in existing]
        old = [r for r in rows if r["implementation_code"] in existing]
        if new:
            self.conn.execute(insert(CATALOG_ITEMS), new)
        if old:
            self.conn.execute(
                update(CATALOG_ITEMS).where(CATALOG_ITEMS.c.implementation_code == bindparam("b_code")),
                [
                    {**{k: v for k, v in r.items() if k != "implementation_code"}, "b_code": r["implementation_code"]}
                    for r in old
                ],
            )

    def list_items(self, query: str = "", limit: int = 50, after: str = "", errands: bool = False) -> list[CatalogItem]:
        """Items by implementation code; `query` in the name or department, `errands`: only
        those open to village agents."""
        q = select(CATALOG_ITEMS).order_by(CATALOG_ITEMS.c.implementation_code).limit(limit)
        if errands:
            q = q.where(CATALOG_ITEMS.c.agent_allowed.is_(True))
        if query:
            # autoescape: % and _ in a search are characters, not wildcards
            q = q.where(
                CATALOG_ITEMS.c.name.contains(query, autoescape=True)
                | CATALOG_ITEMS.c.department.contains(query, autoescape=True)
            )
        if after:
            q = q.where(CATALOG_ITEMS.c.implementation_code > after)
        return [item_from_row(r) for r in self.conn.execute(q).all()]

    # -- calendars ------------------------------------------------------------------------

    def put_calendar(self, year: CalendarYear, origin: str, seq: int) -> None:
        self._upsert(CALENDARS, {"year": year.year}, {**_days(year), "origin": origin, "seq": seq})

    def calendars(self) -> dict[int, CalendarYear]:
        return {r.year: _year(r) for r in self.conn.execute(select(CALENDARS)).all()}

    def work_calendar(self) -> WorkCalendar:
        """The province's years with the local years of every division delegated now."""
        return WorkCalendar(self.calendars(), self.local_calendars())

    def put_local_calendar(self, division: str, year: CalendarYear, seq: int) -> None:
        """A division's local year as of its entry `seq` (kept unless a newer one is here: the
        division's newer entry wins, whichever way each arrived)."""
        key = {"division": division, "year": year.year}
        self._upsert(LOCAL_CALENDARS, key, {**_days(year), "seq": seq}, newer_than=seq)

    def local_calendars(self) -> dict[str, dict[int, CalendarYear]]:
        """Local years of the divisions the province delegates to now, by division."""
        d = CALENDAR_DELEGATIONS.c
        q = (
            select(LOCAL_CALENDARS)
            .join(CALENDAR_DELEGATIONS, d.division == LOCAL_CALENDARS.c.division)
            .where(d.allowed.is_(True))
        )
        out: dict[str, dict[int, CalendarYear]] = {}
        for r in self.conn.execute(q).all():
            out.setdefault(r.division, {})[r.year] = _year(r)
        return out

    def put_delegation(self, division: str, allowed: bool, origin: str, seq: int) -> None:
        self._upsert(CALENDAR_DELEGATIONS, {"division": division}, {"allowed": allowed, "origin": origin, "seq": seq})

    def _upsert(
        self, table: Table, key: dict[str, object], row: dict[str, object], newer_than: int | None = None
    ) -> None:
        """Insert the row of `key`, or update it (only when its `seq` is at most `newer_than`,
        when given)."""
        where = and_(*(table.c[k] == v for k, v in key.items()))
        held = self.conn.execute(select(table.c.seq).where(where)).first()
        if held is None:
            self.conn.execute(insert(table), {**key, **row})
        elif newer_than is None or held[0] <= newer_than:
            self.conn.execute(update(table).where(where).values(**row))

    # -- the province's division list -----------------------------------------------------

    def put_division_part(self, root: str, rows: Sequence[tuple[str, str]], seq: int) -> None:
        """One published part: it replaces what the part of `root` held."""
        self.conn.execute(delete(DIVISIONS).where(DIVISIONS.c.part == root))
        if rows:  # a code belongs to one part only (node.domain.divisions.part_root)
            self.conn.execute(insert(DIVISIONS), [{"code": c, "name": n, "part": root, "seq": seq} for c, n in rows])

    def division_part(self, root: str) -> list[tuple[str, str]]:
        d = DIVISIONS.c
        q = select(d.code, d.name).where(d.part == root).order_by(d.code)
        return [(r.code, r.name) for r in self.conn.execute(q)]

    def division_part_roots(self) -> set[str]:
        return set(self.conn.execute(select(DIVISIONS.c.part).distinct()).scalars())

    def division_names(self, codes: Iterable[str]) -> dict[str, str]:
        """Names of those of `codes` the published list holds."""
        d = DIVISIONS.c
        wanted = sorted(set(codes))
        out: dict[str, str] = {}
        for i in range(0, len(wanted), 500):
            q = select(d.code, d.name).where(d.code.in_(wanted[i : i + 500]))
            out.update((r.code, r.name) for r in self.conn.execute(q))
        return out

    def delegated(self, division: str) -> bool:
        d = CALENDAR_DELEGATIONS.c
        row = self.conn.execute(select(d.allowed).where(d.division == division)).first()
        return bool(row and row[0])


def _days(year: CalendarYear) -> dict[str, object]:
    return {
        "holidays": sorted(d.isoformat() for d in year.holidays),
        "workdays": sorted(d.isoformat() for d in year.workdays),
        "source": year.source,
    }


def _year(r: DbRow) -> CalendarYear:
    return CalendarYear(
        r.year,
        frozenset(dt.date.fromisoformat(d) for d in r.holidays),
        frozenset(dt.date.fromisoformat(d) for d in r.workdays),
        r.source,
    )
