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


def _with_check(first17: str) -> str:
    from node.domain.identifiers import resident_id_check_char

    return first17 + resident_id_check_char(first17)


def test_the_region_code_must_be_a_province_or_a_residence_permit() -> None:
    """20 is no province (refused); 81, 82 and 83 are the residence permits of Hong Kong, Macau
    and Taiwan residents (accepted, without a county warning)."""
    from node.divisions_data import national_county_codes

    with pytest.raises(InvalidInput, match="region code 20 is no province"):
        validate_resident_id(_with_check("20010519491231002"))
    for permit in ("81", "82", "83"):
        checked = validate_resident_id(_with_check(f"{permit}000019900101001"), counties=national_county_codes())
        assert checked.warning is None


def test_an_unknown_county_code_only_warns() -> None:
    """440524 (the standard's own 1880 example) is a county code the current list no longer has:
    the number is valid, with a warning that does not show it whole."""
    from node.divisions_data import national_county_codes

    checked = validate_resident_id("440524188001010014", counties=national_county_codes())
    assert checked.value == "440524188001010014"
    assert checked.warning is not None and "440524" in checked.warning and "188001010014" not in checked.warning
    assert validate_resident_id("11010519491231002X", counties=national_county_codes()).warning is None


def _uscc(first16: str) -> str:
    """A credit code from its first 16 characters: the organisation code's check, then GB 32100's."""
    from node.domain.identifiers import credit_code_check_char, organisation_code_check_char

    first17 = first16 + organisation_code_check_char(first16[8:16])
    return first17 + credit_code_check_char(first17)


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (_uscc("B1110000600037341"[:16]), "no registration authority"),
        (_uscc("9411000060003734"), "registers no organisation type 4"),
        (_uscc("1411000060003734"), "registers no organisation type 4"),
        (_uscc("Y211000060003734"), "registers no organisation type 2"),
    ],
)
def test_authority_and_type_come_from_the_standards_table(code: str, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        validate_credit_code(code)


def test_the_embedded_organisation_code_is_checked() -> None:
    from node.domain.identifiers import credit_code_check_char

    good = "91110000600037341L"
    bad17 = good[:16] + ("2" if good[16] != "2" else "3")  # a wrong GB 11714 check character
    with pytest.raises(InvalidInput, match="GB 11714"):
        validate_credit_code(bad17 + credit_code_check_char(bad17))
    for agency in ("A1", "N2", "31", "53", "93"):
        assert validate_credit_code(_uscc(agency + "11000060003734")).warning is None
