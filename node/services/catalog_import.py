"""Reading catalog files: the real portal export and the full-field formats.

Formats, told apart by the CSV header or the file suffix (docs/catalog-format.md has the details):

- **portal CSV** (the real Guang'an district export): department, group, name, item_code,
  area_code, task_type, dept_code. The basic code is the part of `item_code` before the division
  code; limits are not in the export, so administrative licences (01) get the statutory 20
  working days of the Administrative Licence Law art. 42 (marked `statutory_default`) and other
  items none.
- **full CSV**: one column per GB/T 39046 field (FULL_COLUMNS); lists separated by `;`, a
  material ending in `?` is optional.
- **JSON**: a list of objects (or {"items": [...]}) with the same field names; lists as arrays.

Every row is checked; one bad row rejects the whole file with every problem's line number.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from node.domain.catalog import CatalogItem, Material, validate_item
from node.domain.codes import POWER_TYPES, power_type_code
from node.domain.divisions import USE_LEVEL_OF_TIER, DivisionCode
from node.domain.errors import ImportRejected, InvalidInput, OperatorError
from node.domain.identifiers import validate_credit_code
from node.domain.joint_review import JointReviewPlan, plan_from_dict

PORTAL_COLUMNS = ("department", "group", "name", "item_code", "area_code", "task_type", "dept_code")
FULL_COLUMNS = (
    "basic_code",
    "implementation_code",
    "name",
    "power_type",
    "use_level",
    "service_objects",
    "handling_forms",
    "case_type",
    "legal_limit_days",
    "promised_limit_days",
    "conditions",
    "materials",
    "fee",
    "legal_basis",
    "department",
    "dept_credit_code",
    "division_code",
    "agent_allowed",
    "cross_region",
    "group",
    "joint_review",
)
REQUIRED_FULL = ("basic_code", "implementation_code", "name", "power_type", "department", "division_code")
# 行政许可法 第四十二条: decide within 20 days of acceptance; art. 82: counted in working days.
STATUTORY_LICENCE_DAYS = 20
_TRUE = {"1", "true", "yes", "y", "是"}
_FALSE = {"0", "false", "no", "n", "否", ""}


def _bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidInput(field, f"{value!r} is not yes/no")


def _days(value: Any, field: str) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        days = int(str(value).strip())
    except ValueError:
        raise InvalidInput(field, f"{value!r} is not a whole number of working days") from None
    return days


def _list(value: Any) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return tuple(p.strip() for p in str(value or "").split(";") if p.strip())


def _materials(value: Any) -> tuple[Material, ...]:
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return tuple(Material(str(m["name"]), bool(m.get("required", True)), str(m.get("note", ""))) for m in value)
    out = []
    for name in _list(value):
        optional = name.endswith("?")
        out.append(Material(name.rstrip("?").strip(), not optional))
    return tuple(out)


def split_portal_code(code: str, area: str) -> tuple[str, str, list[str]]:
    """(basic code, the rest, warnings) of a portal implementation code.

    Regular codes read `<basic>-<12-digit division>-000-<credit code>-1-00`; a few real ones
    name another division or none, and are kept with a warning."""
    parts = code.split("-")
    warnings: list[str] = []
    for i, part in enumerate(parts):
        if len(part) == 12 and part.isdigit() and i > 0:
            if part != area:
                warnings.append(f"item code {code} names division {part}, not its area {area}")
            return "-".join(parts[:i]), "-".join(parts[i + 1 :]), warnings
    # No division segment: "E-000004-001-<credit code>" style; the basic code is the
    # letter-and-numbers head.
    head = 3 if len(parts) >= 3 and len(parts[0]) == 1 and parts[0].isalpha() else 1
    warnings.append(f"item code {code} carries no division code")
    return "-".join(parts[:head]), "-".join(parts[head:]), warnings


def item_from_portal_row(row: dict[str, str]) -> CatalogItem:
    code = row["item_code"].strip()
    if not code:
        raise InvalidInput("item_code", "is empty")
    area = DivisionCode.parse(row["area_code"], "area_code")
    basic, rest, warnings = split_portal_code(code, area.code)
    power = power_type_code(row["task_type"])
    if power not in POWER_TYPES:
        raise InvalidInput("task_type", f"unknown power type {row['task_type']!r}")
    # The implementing body's credit code is the 18 characters after "-000-" in the code;
    # the dept_code column is sometimes a 9-digit organisation code instead.
    credit = ""
    for candidate in (*rest.split("-"), row.get("dept_code", "").strip()):
        if len(candidate) == 18:
            try:
                credit = validate_credit_code(candidate, "dept_code").value
                break
            except InvalidInput:
                continue
    legal = STATUTORY_LICENCE_DAYS if power == "01" else None
    group = row.get("group", "").strip()
    return CatalogItem(
        basic_code=basic,
        implementation_code=code,
        name=row["name"].strip(),
        power_type=power,
        division_code=area.code,
        department=row["department"].strip(),
        dept_credit_code=credit,
        use_level=USE_LEVEL_OF_TIER[area.tier],
        legal_limit_days=legal,
        promised_limit_days=legal,
        group="" if group == "未分类" else group,
        limits_source="statutory_default" if legal is not None else "unpublished",
        warnings=tuple(warnings),
    )


def item_from_full(row: dict[str, Any]) -> CatalogItem:
    missing = [c for c in REQUIRED_FULL if not str(row.get(c) or "").strip()]
    if missing:
        raise InvalidInput(missing[0], "is required")
    unknown = sorted(set(row) - set(FULL_COLUMNS))
    if unknown:
        raise InvalidInput(unknown[0], f"unknown field; the fields are {', '.join(FULL_COLUMNS)}")
    division = DivisionCode.parse(str(row["division_code"]), "division_code")
    return CatalogItem(
        basic_code=str(row["basic_code"]).strip(),
        implementation_code=str(row["implementation_code"]).strip(),
        name=str(row["name"]).strip(),
        power_type=power_type_code(str(row["power_type"])),
        division_code=division.code,
        department=str(row["department"]).strip(),
        dept_credit_code=str(row.get("dept_credit_code") or "").strip(),
        use_level=str(row.get("use_level") or USE_LEVEL_OF_TIER[division.tier]).strip(),
        service_objects=_list(row.get("service_objects")),
        handling_forms=_list(row.get("handling_forms")) or ("1",),
        case_type=str(row.get("case_type") or "2").strip(),
        legal_limit_days=_days(row.get("legal_limit_days"), "legal_limit_days"),
        promised_limit_days=_days(row.get("promised_limit_days"), "promised_limit_days"),
        conditions=str(row.get("conditions") or ""),
        materials=_materials(row.get("materials")),
        fee=str(row.get("fee") or ""),
        legal_basis=str(row.get("legal_basis") or ""),
        agent_allowed=_bool(row.get("agent_allowed", ""), "agent_allowed"),
        cross_region=_bool(row.get("cross_region", ""), "cross_region"),
        group=str(row.get("group") or ""),
        joint_review=_plan(row.get("joint_review")),
    )


def _plan(value: Any) -> JointReviewPlan | None:
    """A joint-review plan: an object in a JSON catalog, the same object as JSON text in a CSV
    cell; empty: none."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise InvalidInput("joint_review", f"is not a JSON object: {exc.msg}") from None
    return plan_from_dict(value)


def numbered_csv(text: str) -> tuple[list[str], Iterable[tuple[int, dict[str, str]]]]:
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header

    def rows() -> Iterable[tuple[int, dict[str, str]]]:
        for row in reader:
            yield reader.line_num, row

    return header, rows()


def parse_catalog(source: str, text: str) -> list[CatalogItem]:
    """All items of a catalog file, validated; raises ImportRejected listing every bad line."""
    problems: list[tuple[int, str]] = []
    items: list[CatalogItem] = []
    seen: dict[str, int] = {}
    numbered: Iterable[tuple[int, Any]]
    converter: Any
    if source.endswith(".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ImportRejected(source, [(exc.lineno, f"not valid JSON: {exc.msg}")]) from None
        rows = data.get("items") if isinstance(data, dict) else data
        if not isinstance(rows, list):
            raise ImportRejected(source, [(1, 'expected a list of items or {"items": [...]}')])
        numbered = ((i + 1, r) for i, r in enumerate(rows))  # JSON: the item's position
        converter = item_from_full
    else:
        header, csv_rows = numbered_csv(text)
        if set(PORTAL_COLUMNS) <= set(header):
            converter = item_from_portal_row
        elif set(REQUIRED_FULL) <= set(header):
            converter = item_from_full
        else:
            raise ImportRejected(
                source,
                [(1, f"unknown header; expected the portal columns ({', '.join(PORTAL_COLUMNS)}) or the full columns")],
            )
        numbered = csv_rows
    try:
        for line, row in numbered:
            try:
                if not isinstance(row, dict):
                    raise InvalidInput("item", "is not an object")
                if None in row:
                    raise InvalidInput("row", "has more fields than the header")
                if not source.endswith(".json"):
                    row = {k: (v or "") for k, v in row.items()}
                item = validate_item(converter(row))
            except OperatorError as exc:
                problems.append((line, str(exc)))
                continue
            if item.implementation_code in seen:
                problems.append(
                    (
                        line,
                        f"implementation code {item.implementation_code} repeats line {seen[item.implementation_code]}",
                    )
                )
                continue
            seen[item.implementation_code] = line
            items.append(item)
    except csv.Error as exc:
        problems.append((len(items) + len(problems) + 2, f"malformed CSV: {exc}"))
    if problems:
        raise ImportRejected(source, problems)
    if not items:
        raise ImportRejected(source, [(1, "the file holds no items")])
    return items


def read_text(path: Path, name: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InvalidInput(name, f"{path} does not exist") from None
    except UnicodeDecodeError:
        raise ImportRejected(str(path), [(1, "not UTF-8 text")]) from None


def read_catalog_file(path: Path) -> list[CatalogItem]:
    return parse_catalog(str(path), read_text(path, "file"))


def states_errands(path: Path) -> bool:
    """Whether a catalog file says which items are open to errands: JSON and CSVs with an
    `agent_allowed` column do; the portal's CSV does not, so importing it keeps each held item's
    flag (the county's 代办事项清单, `yiwang catalog errands`)."""
    if path.suffix == ".json":
        return True
    with path.open(encoding="utf-8-sig", newline="") as f:
        header = next(csv.reader(f), [])
    return "agent_allowed" in (h.strip() for h in header)


CODES_COLUMNS = ("implementation_code", "name", "department")


def read_codes_csv(path: Path) -> list[str]:
    """The implementation codes of a CSV with an `implementation_code` column (any others are
    ignored); raises ImportRejected naming the line of a row without one."""
    header, rows = numbered_csv(read_text(path, "--csv"))
    if "implementation_code" not in header:
        raise ImportRejected(str(path), [(1, "no implementation_code column")])
    codes, problems = [], []
    try:
        for line, row in rows:
            code = (row.get("implementation_code") or "").strip()
            if code:
                codes.append(code)
            else:
                problems.append((line, "implementation_code is empty"))
    except csv.Error as exc:
        problems.append((len(codes) + len(problems) + 2, f"malformed CSV: {exc}"))
    if problems:
        raise ImportRejected(str(path), problems)
    return codes


def write_codes_csv(out: TextIO, items: Iterable[CatalogItem]) -> None:
    """The items as a CSV `read_codes_csv` reads back (code, name, department)."""
    writer = csv.writer(out)
    writer.writerow(CODES_COLUMNS)
    for i in items:
        writer.writerow((i.implementation_code, i.name, i.department))
