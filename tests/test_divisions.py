from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pytest

from node.context import Node
from node.divisions_data import example_tree
from node.domain.divisions import DivisionCode, DivisionRegistry, Tier, lowest_common_ancestor, part_problem
from node.domain.errors import Forbidden, ImportRejected, InvalidInput
from tests.conftest import Clock, shared
from tests.helpers import counts
from tests.test_replica import enroll, push_down

COLUMNS = ("code", "name", "level", "parent_code")


def test_tier_and_ancestry_of_a_village() -> None:
    village = DivisionCode.parse("511602100201")
    assert village.tier == Tier.VILLAGE
    assert [a.code for a in village.ancestors()] == ["511602100000", "511602000000", "511600000000", "510000000000"]
    assert village.prefix == "511602100201"
    assert DivisionCode.parse("511600000000").contains(village)
    assert not DivisionCode.parse("511700000000").contains(village)
    assert DivisionCode.parse("510000000000").parent() is None


@pytest.mark.parametrize(
    "raw", ["51160210020", "5116021002011", "51160210020x", "000000000000", "510000001000", "510100000201"]
)
def test_malformed_codes_are_refused(raw: str) -> None:
    with pytest.raises(InvalidInput):
        DivisionCode.parse(raw)


def test_lowest_common_ancestor() -> None:
    a = DivisionCode.parse("511602100201")
    b = DivisionCode.parse("511621100201")
    assert lowest_common_ancestor(a, b) == DivisionCode("511600000000")
    assert lowest_common_ancestor(a, DivisionCode.parse("110101000000")) is None


def test_every_sichuan_division_parses_with_its_level_as_tier() -> None:
    with shared("divisions_sichuan.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    registry = DivisionRegistry.from_rows(rows)
    assert len(registry) == 37728
    counts: dict[int, int] = {}
    for row in rows:
        code = DivisionCode.parse(row["code"])
        assert code.tier == int(row["level"]), row
        parent = code.parent()
        assert (parent.code if parent else "") == row["parent_code"]
        counts[code.tier] = counts.get(code.tier, 0) + 1
    assert counts == {1: 1, 2: 21, 3: 183, 4: 3111, 5: 34412}
    # the package ships the same tree as its example
    assert len(example_tree("51")) == len(registry)
    townships = registry.children(DivisionCode("511602000000"))
    assert townships[0].name == "浓洄街道" and all(t.code.tier == Tier.TOWNSHIP for t in townships)
    assert "511602000000" in registry and str(townships[0].code) == "511602001000"


def test_pseudo_units_in_the_national_data() -> None:
    with shared("divisions_national_l1_l3.csv").open(encoding="utf-8") as fh:
        registry = DivisionRegistry.from_rows(csv.DictReader(fh))
    henan_direct = registry.get("419000000000")
    assert henan_direct.pseudo and henan_direct.code.tier == Tier.CITY
    assert registry.get("110100000000").pseudo  # 北京 市辖区
    assert not registry.get("511600000000").pseudo


# --- any province's tree, published by the province (issue 13) ----------------------------


def gansu_rows() -> list[dict[str, str]]:
    """Gansu's province, cities and counties from the national tree, with townships and villages
    made up for two counties: a province the package ships no tree of."""
    with shared("divisions_national_l1_l3.csv").open(encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["code"].startswith("62")]
    for county, town in (("620102", "雁南街道"), ("620502", "大城街道")):
        rows.append({"code": f"{county}001000", "name": town, "level": "4", "parent_code": f"{county}000000"})
        for i, village in enumerate(("东岗社区", "西关村"), start=1):
            rows.append({"code": f"{county}00100{i}", "name": village, "level": "5", "parent_code": f"{county}001000"})
    return rows


def write_tree(path: Path, rows: list[dict[str, str]], columns: tuple[str, ...] = COLUMNS) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_a_province_publishes_its_tree_once_and_its_children_name_themselves_from_it(
    tmp_path: Path, clock: Clock
) -> None:
    gansu = Node.init(tmp_path / "gansu", "620000000000", clock=clock)
    city = enroll(gansu, "620100000000", tmp_path, clock)  # a city: the national tree has it
    county = enroll(city, "620102000000", tmp_path, clock)
    try:
        identity = county.identity()
        assert identity is not None
        with pytest.raises(InvalidInput, match="does not hold its province's division list"):
            county.enrollment(identity, 1).make_token("620102001000")
        path = write_tree(tmp_path / "gansu.csv", gansu_rows())
        first = gansu.divisions.import_file(path)
        assert (first.published, first.unchanged, first.removed) == (3, 0, 0)  # the province's, two counties'
        assert first.divisions == len(gansu_rows())
        again = gansu.divisions.import_file(path)
        assert (again.published, again.unchanged) == (0, first.published)  # idempotent: nothing written
        push_down(gansu, city)
        push_down(city, county)
        assert county.divisions.name("620102001002") == "西关村"
        assert [d.name for d in county.divisions.children(DivisionCode("620102001000"))] == ["东岗社区", "西关村"]
        with pytest.raises(InvalidInput, match="no division in the division list"):
            county.enrollment(identity, 1).make_token("620102009000")  # a township that does not exist
        township = enroll(county, "620102001000", tmp_path, clock)
        assert township.name == "雁南街道" and county.name == "城关区"
        # a village renamed: only its county's part is published again, and replaces the old one
        renamed = [dict(r, name="东岗新村") if r["code"] == "620102001001" else r for r in gansu_rows()]
        changed = gansu.divisions.import_file(write_tree(tmp_path / "v2.csv", renamed))
        assert (changed.published, changed.removed) == (1, 0)
        # a county's townships gone from the file: its part is published empty
        fewer = [r for r in renamed if not r["code"].startswith("620502001")]
        gone = gansu.divisions.import_file(write_tree(tmp_path / "v3.csv", fewer))
        assert (gone.published, gone.removed) == (0, 1)
        for parent, child in ((gansu, city), (city, county), (county, township)):
            push_down(parent, child)
        assert township.divisions.name("620102001001") == "东岗新村"
        assert township.divisions.get(DivisionCode("620502001001")) is None
        assert township.divisions.name("620502000000") == "秦州区"  # the national tree still names the county
        township.close()
    finally:
        for n in (county, city, gansu):
            n.close()


def _bad_files() -> list[tuple[str, Callable[[list[dict[str, str]]], list[dict[str, str]]], str]]:
    return [
        ("bad code", lambda rows: [*rows, {"code": "62010200100", "name": "x"}], "12-digit"),
        ("duplicate", lambda rows: [*rows, rows[-1]], "listed twice"),
        ("empty name", lambda rows: [dict(r, name=" ") if r["code"] == "620102001001" else r for r in rows], "empty"),
        ("wrong level", lambda rows: [dict(r, level="3") if r["code"] == "620102001001" else r for r in rows], "level"),
        (
            "wrong parent",
            lambda rows: [dict(r, parent_code="620100000000") if r["code"] == "620102001001" else r for r in rows],
            "parent_code",
        ),
        ("orphan", lambda rows: [r for r in rows if r["code"] != "620102001000"], "parent is not in the file"),
        ("two provinces", lambda rows: [*rows, {"code": "510000000000", "name": "四川省"}], "provinces"),
        ("no province row", lambda rows: [r for r in rows if r["code"] != "620000000000"], "missing"),
        ("control character", lambda rows: [*rows, {"code": "620102001003", "name": "a\x1bb"}], "control"),
    ]


@pytest.mark.parametrize(("what", "change", "says"), _bad_files(), ids=[b[0] for b in _bad_files()])
def test_a_bad_division_file_is_refused_whole_and_writes_nothing(
    tmp_path: Path,
    clock: Clock,
    what: str,
    change: Callable[[list[dict[str, str]]], list[dict[str, str]]],
    says: str,
) -> None:
    gansu = Node.init(tmp_path / "gansu", "620000000000", clock=clock)
    try:
        before = counts(gansu)
        with pytest.raises((ImportRejected, InvalidInput), match=says):
            gansu.divisions.import_file(write_tree(tmp_path / "bad.csv", change(gansu_rows())))
        assert counts(gansu) == before, what
        assert gansu.divisions.import_file(write_tree(tmp_path / "good.csv", gansu_rows())).published > 0  # serves
    finally:
        gansu.close()


def test_only_the_province_publishes_and_only_its_own_tree(tmp_path: Path, clock: Clock) -> None:
    gansu = Node.init(tmp_path / "gansu", "620000000000", clock=clock)
    county = Node.init(tmp_path / "county", "620102000000", clock=clock)
    try:
        path = write_tree(tmp_path / "gansu.csv", gansu_rows())
        before = counts(county)
        with pytest.raises(Forbidden, match="only the province"):
            county.divisions.import_file(path)
        assert counts(county) == before
        sichuan = Node.init(tmp_path / "sichuan", "510000000000", clock=clock)
        before = counts(sichuan)
        with pytest.raises(InvalidInput, match="its own tree"):
            sichuan.divisions.import_file(path)
        assert counts(sichuan) == before
        sichuan.close()
        (tmp_path / "latin1.csv").write_bytes("code,name\n620000000000,Gans\xfc\n".encode("latin-1"))
        with pytest.raises(ImportRejected, match="not UTF-8"):
            gansu.divisions.import_file(tmp_path / "latin1.csv")
        (tmp_path / "cols.csv").write_text("division,title\n620000000000,甘肃省\n", encoding="utf-8")
        with pytest.raises(ImportRejected, match="code and name"):
            gansu.divisions.import_file(tmp_path / "cols.csv")
    finally:
        gansu.close()
        county.close()


def test_a_part_breaking_the_rules_is_named() -> None:
    assert part_problem("620000000000", "620102000000", [("620102001000", "雁南街道")]) is None
    assert "only a province" in (part_problem("620100000000", "620102000000", []) or "")
    assert "neither" in (part_problem("620000000000", "510000000000", []) or "")
    assert "neither" in (part_problem("620000000000", "620102001000", []) or "")  # a township is no part root
    assert "does not belong" in (part_problem("620000000000", "620102000000", [("620103001000", "x")]) or "")
    assert "does not belong" in (part_problem("620000000000", "620000000000", [("620102001000", "x")]) or "")
    assert "name" in (part_problem("620000000000", "620102000000", [("620102001000", "")]) or "")
