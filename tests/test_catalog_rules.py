"""Catalog item validation and the tier rule."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from node.domain.catalog import (
    STANDARD_FIELDS,
    check_lower_tier_entry,
    check_publisher,
    validate_item,
)
from node.domain.codes import (
    CASE_TYPES,
    HANDLING_FORMS,
    POWER_TYPES,
    SATISFACTION,
    SERVICE_OBJECTS,
    USE_LEVELS,
)
from node.domain.divisions import DivisionCode
from node.domain.errors import CatalogRuleViolation, InvalidInput
from tests.conftest import licence_item, shared


def test_a_full_item_validates() -> None:
    item = validate_item(licence_item())
    assert item.limit_days == 10 and item.warnings == ()


def test_promised_above_legal_is_refused() -> None:
    with pytest.raises(CatalogRuleViolation, match="exceeds the legal limit"):
        validate_item(licence_item(promised=25, legal=20))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"power_type": "77x"}, "power_type"),
        ({"use_level": "9"}, "use_level"),
        ({"service_objects": ("8",)}, "service_objects"),
        ({"handling_forms": ("7",)}, "handling_forms"),
        ({"case_type": "3"}, "case_type"),
        ({"division_code": "51160"}, "division_code"),
        ({"dept_credit_code": "91110000600037341N"}, "dept_credit_code"),
        ({"name": " "}, "name"),
        ({"legal_limit_days": 400, "promised_limit_days": 10}, "legal_limit_days"),
        ({"case_type": "1"}, "case_type"),  # instant with a 10-day promise
    ],
)
def test_bad_fields_are_refused(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        validate_item(replace(licence_item(), **changes))  # type: ignore[arg-type]
    assert err.value.field == field


def test_known_exception_credit_code_warns() -> None:
    item = validate_item(replace(licence_item(), dept_credit_code="91350100M0001TGQXM"))
    assert item.warnings and "known legally issued" in item.warnings[0]


@pytest.mark.parametrize("field", STANDARD_FIELDS)
def test_lower_tier_may_not_change_a_standard_field(field: str) -> None:
    standard = licence_item(division="510000000000")
    changed_value: Any = {"service_objects": ("2",), "legal_limit_days": 30}.get(field, "changed")
    entry = replace(licence_item("2"), **{field: changed_value})
    with pytest.raises(CatalogRuleViolation, match=field):
        check_lower_tier_entry(standard, entry)


def test_lower_tier_may_add_an_implementation_entry() -> None:
    standard = licence_item(division="510000000000", promised=15)
    entry = replace(
        licence_item("2"),
        promised_limit_days=5,
        department="区行政审批局",
        fee="免费",
        agent_allowed=False,
        cross_region=True,
    )
    check_lower_tier_entry(standard, entry)  # no error: only implementation fields differ
    with pytest.raises(CatalogRuleViolation, match="exceeds the legal limit"):
        check_lower_tier_entry(standard, replace(entry, promised_limit_days=21))


def test_a_node_publishes_only_inside_its_division() -> None:
    check_publisher(DivisionCode("511600000000"), licence_item())
    with pytest.raises(CatalogRuleViolation, match="outside"):
        check_publisher(DivisionCode("511700000000"), licence_item())


def test_code_sets_agree_with_the_standard_transcription() -> None:
    data = json.loads(shared("codelists_gbt39046.json").read_text(encoding="utf-8"))
    assert set(USE_LEVELS) == set(data["A.2_use_level"])
    assert data["A.4_service_object"] == SERVICE_OBJECTS
    assert data["A.5_handling_form"] == HANDLING_FORMS
    assert data["A.6_case_type"] == CASE_TYPES
    assert {str(k): v for k, v in SATISFACTION.items()} == data["A.8_satisfaction"]
    assert {k for k in data["A.1_item_type"] if k.isdigit()} == set(POWER_TYPES)
