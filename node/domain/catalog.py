"""Catalog items with the GB/T 39046 fields, their validation, and the tier rule.

"Same item, same standard, same code": the tier that owns a basic item sets its standard
fields; a lower tier may add implementation entries (its own implementation code, department,
promised limit, materials, fee ...) but may not change a standard field.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

from node.domain.codes import CASE_TYPES, HANDLING_FORMS, POWER_TYPES, SERVICE_OBJECTS, USE_LEVELS
from node.domain.divisions import DivisionCode, Tier
from node.domain.errors import CatalogRuleViolation, InvalidInput
from node.domain.identifiers import validate_credit_code
from node.domain.joint_review import JointReviewPlan

# Fields fixed by the owner of the basic item; lower tiers must keep them as published.
STANDARD_FIELDS = (
    "basic_code",
    "name",
    "power_type",
    "service_objects",
    "legal_limit_days",
    "legal_basis",
    "conditions",
)
MAX_LIMIT_DAYS = 366


@dataclass(frozen=True)
class Material:
    name: str
    required: bool = True
    note: str = ""


@dataclass(frozen=True)
class CatalogItem:
    """One implementation entry of a service item (办事指南 fields of GB/T 39046)."""

    basic_code: str
    implementation_code: str
    name: str
    power_type: str
    division_code: str
    department: str
    dept_credit_code: str = ""
    use_level: str = "4"
    service_objects: tuple[str, ...] = ()
    handling_forms: tuple[str, ...] = ("1",)
    case_type: str = "2"
    legal_limit_days: int | None = None
    promised_limit_days: int | None = None
    conditions: str = ""
    materials: tuple[Material, ...] = ()
    fee: str = ""
    legal_basis: str = ""
    agent_allowed: bool = False
    cross_region: bool = False
    group: str = ""
    limits_source: str = "published"
    joint_review: JointReviewPlan | None = None  # 并联审批: co-reviewers (docs/joint-review.md)
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def instant(self) -> bool:
        return self.case_type == "1"

    @property
    def limit_days(self) -> int | None:
        """The limit a case runs against: promised if published; else, for an item reviewed
        jointly, the plan's whole limit (行政许可法 art. 42: 45 working days for joint
        handling); else legal, else none."""
        if self.promised_limit_days is not None:
            return self.promised_limit_days
        if self.joint_review is not None:
            return self.joint_review.limit_days
        return self.legal_limit_days


def _check_codes(name: str, values: tuple[str, ...], allowed: dict[str, str]) -> None:
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise InvalidInput(name, f"unknown code(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")


def validate_item(item: CatalogItem) -> CatalogItem:
    """Check every field; return the item with credit-code warnings attached, or raise."""
    for name in ("basic_code", "implementation_code", "name", "department"):
        if not getattr(item, name).strip():
            raise InvalidInput(name, "is empty")
    if len(item.implementation_code) > 64 or " " in item.implementation_code:
        raise InvalidInput("implementation_code", f"{item.implementation_code!r} is not a code")
    DivisionCode.parse(item.division_code, "division_code")
    if item.power_type not in POWER_TYPES and not (item.power_type.isdigit() and len(item.power_type) == 2):
        raise InvalidInput("power_type", f"unknown code {item.power_type!r}; see GB/T 39046 A.1")
    _check_codes("use_level", (item.use_level,), USE_LEVELS)
    _check_codes("service_objects", item.service_objects, SERVICE_OBJECTS)
    _check_codes("handling_forms", item.handling_forms, HANDLING_FORMS)
    _check_codes("case_type", (item.case_type,), CASE_TYPES)
    for name in ("legal_limit_days", "promised_limit_days"):
        value = getattr(item, name)
        if value is not None and not 0 <= value <= MAX_LIMIT_DAYS:
            raise InvalidInput(name, f"{value} is outside 0..{MAX_LIMIT_DAYS} working days")
    if (
        item.legal_limit_days is not None
        and item.promised_limit_days is not None
        and item.promised_limit_days > item.legal_limit_days
    ):
        raise CatalogRuleViolation(
            item.implementation_code,
            f"promised limit {item.promised_limit_days} exceeds the legal limit {item.legal_limit_days} working days",
        )
    if item.instant and item.promised_limit_days not in (None, 0):
        raise InvalidInput("case_type", "an instant case (1) has a promised limit of 0 days")
    warnings = list(item.warnings)
    if item.dept_credit_code:
        checked = validate_credit_code(item.dept_credit_code, "dept_credit_code")
        if checked.warning:
            warnings.append(checked.warning)
    if item.joint_review is not None and item.instant:  # the plan checked itself as it was read
        raise InvalidInput("joint_review", "an instant case (1) is not reviewed jointly")
    names = [m.name for m in item.materials]
    if len(set(names)) != len(names):
        raise InvalidInput("materials", "a material is listed twice")
    return replace(item, warnings=tuple(warnings))


def check_lower_tier_entry(standard: CatalogItem, entry: CatalogItem) -> None:
    """Raise unless `entry` (a lower tier's implementation) keeps `standard`'s standard fields
    and lies inside the tier's division."""
    changed = [
        f.name
        for f in fields(CatalogItem)
        if f.name in STANDARD_FIELDS and getattr(standard, f.name) != getattr(entry, f.name)
    ]
    if changed:
        raise CatalogRuleViolation(
            entry.implementation_code,
            f"a lower tier may not change standard field(s) {', '.join(changed)} of basic item "
            f"{standard.basic_code}; add an implementation entry with the published values",
        )
    if (
        entry.promised_limit_days is not None
        and standard.legal_limit_days is not None
        and (entry.promised_limit_days > standard.legal_limit_days)
    ):
        raise CatalogRuleViolation(
            entry.implementation_code,
            f"promised limit {entry.promised_limit_days} exceeds the legal limit "
            f"{standard.legal_limit_days} of basic item {standard.basic_code}",
        )


def check_publisher(publisher: DivisionCode, item: CatalogItem, peers: frozenset[str] = frozenset()) -> None:
    """A node may publish implementation entries only for divisions in its own subtree; a
    province also publishes the cross-region (通办) items of the peer provinces it trusts
    (`peers`: their codes), so its residents can file them."""
    division = DivisionCode.parse(item.division_code, "division_code")
    province = [division, *division.ancestors()][-1]
    if province.code in peers and publisher.tier == Tier.PROVINCE:
        if not item.cross_region:
            raise CatalogRuleViolation(
                item.implementation_code, f"only cross-region (通办) items of peer province {province} can be published"
            )
        return
    if not publisher.contains(division):
        raise CatalogRuleViolation(
            item.implementation_code,
            f"implementing division {division} is outside this node's division {publisher}",
        )
