from __future__ import annotations

import csv

import pytest

from node.divisions_data import sichuan
from node.domain.divisions import DivisionCode, DivisionRegistry, Tier, lowest_common_ancestor
from node.domain.errors import InvalidInput
from tests.conftest import shared


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
    # the package ships the same tree
    assert len(sichuan()) == len(registry)
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
