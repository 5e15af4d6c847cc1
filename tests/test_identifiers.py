"""Every value of ../shared/data/identifier_vectors.json."""

from __future__ import annotations

import datetime as dt

import pytest

from node.domain.errors import InvalidInput
from node.domain.identifiers import validate_credit_code, validate_resident_id
from tests.conftest import vectors

V = vectors()
RID = V["resident_id_GB11643"]
USCC = V["uscc_GB32100"]


@pytest.mark.parametrize("case", RID["valid"], ids=lambda c: c["value"])
def test_valid_resident_ids(case: dict[str, str]) -> None:
    checked = validate_resident_id(case["value"], dt.date(2026, 11, 22))
    assert checked.value == case["value"].upper() and checked.warning is None


def test_lower_case_x_is_normalised() -> None:
    assert validate_resident_id("11010519491231002x").value == "11010519491231002X"


@pytest.mark.parametrize("case", RID["invalid_checksum"] + RID["invalid_date"], ids=lambda c: c["value"])
def test_invalid_resident_ids(case: dict[str, str]) -> None:
    with pytest.raises(InvalidInput) as err:
        validate_resident_id(case["value"])
    assert case["value"] not in str(err.value), "errors must not echo a whole identity number"


@pytest.mark.parametrize("raw", ["36042619910101007", "360426910101007", "990426199101010071", ""])
def test_malformed_resident_ids(raw: str) -> None:
    with pytest.raises(InvalidInput):
        validate_resident_id(raw)


def test_birth_date_in_the_future_is_refused() -> None:
    with pytest.raises(InvalidInput):
        validate_resident_id("44011320141005001X", today=dt.date(2014, 1, 1))


@pytest.mark.parametrize("case", USCC["valid"], ids=lambda c: c["value"])
def test_valid_credit_codes(case: dict[str, str]) -> None:
    checked = validate_credit_code(case["value"])
    assert checked.value == case["value"] and checked.warning is None


@pytest.mark.parametrize("case", USCC["invalid_checksum"], ids=lambda c: c["value"])
def test_credit_code_checksum_failures(case: dict[str, str]) -> None:
    with pytest.raises(InvalidInput, match=f"should be {case['expected_check']}"):
        validate_credit_code(case["value"])


@pytest.mark.parametrize("case", USCC["invalid_format"], ids=lambda c: c["value"])
def test_credit_code_format_failures(case: dict[str, str]) -> None:
    with pytest.raises(InvalidInput):
        validate_credit_code(case["value"])


@pytest.mark.parametrize(
    "case", [c for c in USCC["real_world_exceptions"] if "computed_check" in c], ids=lambda c: c["value"]
)
def test_known_legal_exceptions_warn_instead_of_failing(case: dict[str, str]) -> None:
    checked = validate_credit_code(case["value"])
    assert checked.warning is not None and "known legally issued" in checked.warning


def test_truncated_real_world_code_fails() -> None:
    (truncated,) = [c for c in USCC["real_world_exceptions"] if "computed_check" not in c]
    with pytest.raises(InvalidInput, match="17 characters"):
        validate_credit_code(truncated["value"])


@pytest.mark.parametrize(
    "case", V["item_codes_real"]["sichuan_local_implementation_code"]["examples"], ids=lambda c: c["name"]
)
def test_real_item_codes_carry_a_valid_credit_code(case: dict[str, str]) -> None:
    from node.services.catalog_import import split_portal_code

    basic, rest, warnings = split_portal_code(case["itemCode"], "511602000000")
    assert warnings == [] and basic and case["itemCode"].startswith(basic)
    assert validate_credit_code(rest.split("-")[1]).warning is None
