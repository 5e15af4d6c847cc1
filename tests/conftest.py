"""Shared fixtures: real SQLite files, real PostgreSQL, the real shared data, a settable clock."""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from node.context import Node
from node.domain.calendar import CalendarYear
from node.domain.catalog import CatalogItem, Material
from node.domain.timelimits import CHINA_TZ

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
CATALOG_CSV = SHARED_DATA / "catalog_sichuan_511602.csv"
COUNTY = "511602000000"  # 广安区, the district of the real catalog
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
# The CLI speaks Chinese unless asked otherwise; the tests read its English words, and
# tests/test_locale.py the Chinese ones (every CLI run in a test inherits this).
os.environ["YIWANG_LANG"] = "en"


def uncovered_year() -> int:
    """The first year the installed chinese-calendar does not cover: 2027 with 1.11.0, and
    later once a release adds that year's official schedule (expected each November)."""
    from node.domain.calendar import WorkCalendar

    return next(y for y in range(2027, 2200) if not WorkCalendar().covers(y))


def next_weekday(day: dt.date) -> dt.date:
    """The first Monday-Friday day after `day`."""
    day += dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def shared(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.exists():
        pytest.fail(f"{path} is missing: the tests read the real data in ../shared/data")
    return path


def vectors() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(shared("identifier_vectors.json").read_text(encoding="utf-8"))
    return data


class Clock:
    """A settable clock: tests move time explicitly."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def set_local(self, year: int, month: int, day: int, hour: int = 10) -> None:
        self.now = dt.datetime(year, month, day, hour, tzinfo=CHINA_TZ).astimezone(dt.UTC)


@pytest.fixture
def clock() -> Clock:
    c = Clock(dt.datetime(2026, 3, 2, 2, tzinfo=dt.UTC))  # Monday 2026-03-02 10:00 in China
    return c


def pg_url() -> str:
    return os.environ.get("YIWANG_TEST_PG_URL", DEFAULT_PG_URL)


def _pg_reachable(url: str) -> str | None:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("select 1")
    except Exception as exc:
        return str(exc).strip().splitlines()[0]
    return None


@pytest.fixture(scope="session")
def pg_base_url() -> str:
    url = pg_url()
    problem = _pg_reachable(url)
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {url} is unreachable under CI=true: {problem}")
        pytest.skip(f"PostgreSQL at {url} is unreachable ({problem}); set YIWANG_TEST_PG_URL")
    return url


@contextmanager
def fresh_pg_schema(pg_base_url: str) -> Iterator[str]:
    """A URL whose search_path is a new, empty schema, dropped afterwards."""
    import psycopg

    schema = f"yiwang_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_base_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in pg_base_url else "?"
    try:
        yield f"{pg_base_url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(pg_base_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def pg_schema_url(pg_base_url: str) -> Iterator[str]:
    """A URL whose search_path is a fresh schema, dropped after the test."""
    with fresh_pg_schema(pg_base_url) as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store contract test runs on a real SQLite file and on real PostgreSQL."""
    if request.param == "sqlite":
        return ""
    url: str = request.getfixturevalue("pg_schema_url")
    return url


def make_node(tmp_path: Path, clock: Clock, database_url: str = "", code: str = COUNTY) -> Node:
    return Node.init(tmp_path / f"node-{code}", code, database_url=database_url, clock=clock)


@pytest.fixture
def node(tmp_path: Path, clock: Clock) -> Iterator[Node]:
    n = make_node(tmp_path, clock)
    yield n
    n.close()


@pytest.fixture
def any_node(tmp_path: Path, clock: Clock, database_url: str) -> Iterator[Node]:
    """A node on SQLite and, in a second run, on PostgreSQL."""
    n = make_node(tmp_path, clock, database_url)
    yield n
    n.close()


@pytest.fixture
def governed(tmp_path: Path, clock: Clock, database_url: str) -> Iterator[tuple[Node, Node]]:
    """(province, county): the county enrolled under its city under its province (the county on
    SQLite, then on PostgreSQL); the province's calendars reach it with `publish_calendar`."""
    from tests.test_replica import enroll, province_node

    province = province_node(tmp_path / "province", "510000000000", clock)
    city = enroll(province, COUNTY[:4] + "00000000", tmp_path, clock)
    county = enroll(city, COUNTY, tmp_path, clock, database_url)
    city.close()
    yield province, county
    county.close()
    province.close()


def publish_calendar(province: Node, county: Node, year: CalendarYear) -> int:
    """The province publishes `year` and its public stream reaches the county (as the links
    through the city would carry it); returns the entries the county received."""
    from tests.test_replica import push_down

    province.calendars.publish(year)
    return push_down(province, county)


def licence_item(
    code_suffix: str = "1", promised: int | None = 10, legal: int | None = 20, division: str = COUNTY, **changes: Any
) -> CatalogItem:
    """A full-field licence item of the county, with a real credit code from the data."""
    fields: dict[str, Any] = {
        "basic_code": "511A0138600000",
        "implementation_code": f"511A0138600000-{division}-000-115113010833722043-1-0{code_suffix}",
        "name": "教师资格认定",
        "power_type": "01",
        "division_code": division,
        "department": "区教科体局",
        "dept_credit_code": "115113010833722043",
        "service_objects": ("1",),
        "legal_limit_days": legal,
        "promised_limit_days": promised,
        "materials": (Material("身份证"), Material("体检表"), Material("户口簿复印件", required=False)),
        "agent_allowed": True,
    }
    fields.update(changes)
    return CatalogItem(**fields)
