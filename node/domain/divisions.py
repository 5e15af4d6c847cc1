"""Division codes: the 12-digit statistical codes that name every node and its place in the tree.

Segments: province [0:2], city [2:4], county [4:6], township [6:9], village [9:12]. A code's tier
is its last non-zero segment, and no segment after a zero segment may be non-zero. Ancestry is by
prefix, so routing and "may this issuer certify that code" are pure string functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import IntEnum

from node.domain.errors import InvalidInput, NotFound


class Tier(IntEnum):
    PROVINCE = 1
    CITY = 2
    COUNTY = 3
    TOWNSHIP = 4
    VILLAGE = 5

    @property
    def label(self) -> str:
        return self.name.lower()


# (start, end) of each tier's segment in the 12-digit code.
_SEGMENTS: tuple[tuple[int, int], ...] = ((0, 2), (2, 4), (4, 6), (6, 9), (9, 12))
# Significant prefix length of a code at each tier.
PREFIX_LEN: dict[Tier, int] = {Tier(i + 1): end for i, (_, end) in enumerate(_SEGMENTS)}
# Names of level-2 pseudo-units in the statistical data: groupings, not real cities.
PSEUDO_UNIT_NAMES = frozenset({"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"})
# GB/T 39046 A.2 use level that corresponds to each tier.
USE_LEVEL_OF_TIER: dict[Tier, str] = {
    Tier.PROVINCE: "2",
    Tier.CITY: "3",
    Tier.COUNTY: "4",
    Tier.TOWNSHIP: "5",
    Tier.VILLAGE: "6",
}


@dataclass(frozen=True, order=True)
class DivisionCode:
    """A validated 12-digit division code."""

    code: str

    @classmethod
    def parse(cls, raw: str, field: str = "division code") -> DivisionCode:
        text = raw.strip()
        if len(text) != 12 or not text.isdigit():
            raise InvalidInput(field, f"{text!r} is not a 12-digit division code")
        if text[0:2] == "00":
            raise InvalidInput(field, f"{text!r} has no province segment")
        seen_zero = False
        for start, end in _SEGMENTS:
            zero = set(text[start:end]) == {"0"}
            if seen_zero and not zero:
                raise InvalidInput(field, f"{text!r}: segment {text[start:end]} follows an empty parent segment")
            seen_zero = seen_zero or zero
        return cls(text)

    def __str__(self) -> str:
        return self.code

    @property
    def tier(self) -> Tier:
        tier = Tier.PROVINCE
        for i, (start, end) in enumerate(_SEGMENTS):
            if set(self.code[start:end]) != {"0"}:
                tier = Tier(i + 1)
        return tier

    @property
    def prefix(self) -> str:
        """The significant digits: every descendant's code starts with them."""
        return self.code[: PREFIX_LEN[self.tier]]

    def parent(self) -> DivisionCode | None:
        if self.tier == Tier.PROVINCE:
            return None
        keep = PREFIX_LEN[Tier(self.tier - 1)]
        return DivisionCode(self.code[:keep].ljust(12, "0"))

    def ancestors(self) -> Iterator[DivisionCode]:
        """Parent first, province last."""
        node = self.parent()
        while node is not None:
            yield node
            node = node.parent()

    def contains(self, other: DivisionCode) -> bool:
        """True when `other` is this division or lies below it."""
        return other.code.startswith(self.prefix)

    def is_ancestor_of(self, other: DivisionCode) -> bool:
        return self != other and self.contains(other)


def lowest_common_ancestor(a: DivisionCode, b: DivisionCode) -> DivisionCode | None:
    """The deepest division containing both, or None when they are in different provinces."""
    chain_a = [a, *a.ancestors()]
    for node in chain_a:
        if node.contains(b):
            return node
    return None


@dataclass(frozen=True)
class Division:
    code: DivisionCode
    name: str
    level: int
    parent: DivisionCode | None

    @property
    def pseudo(self) -> bool:
        """A level-2 grouping such as 市辖区 or 省直辖县级行政区划, not a real city."""
        return self.name in PSEUDO_UNIT_NAMES


class DivisionRegistry:
    """The known divisions (from the statistical data), looked up by code."""

    def __init__(self, divisions: Iterable[Division]) -> None:
        self._by_code = {d.code.code: d for d in divisions}

    @classmethod
    def from_rows(cls, rows: Iterable[dict[str, str]]) -> DivisionRegistry:
        """Rows with keys code, name, level, parent_code (the shared CSV's columns)."""
        divisions = []
        for row in rows:
            parent = row.get("parent_code") or ""
            divisions.append(
                Division(
                    code=DivisionCode.parse(row["code"]),
                    name=row["name"],
                    level=int(row["level"]),
                    parent=DivisionCode.parse(parent) if parent else None,
                )
            )
        return cls(divisions)

    def __len__(self) -> int:
        return len(self._by_code)

    def __contains__(self, code: object) -> bool:
        key = code.code if isinstance(code, DivisionCode) else code
        return key in self._by_code

    def get(self, code: DivisionCode | str) -> Division:
        key = code.code if isinstance(code, DivisionCode) else code
        try:
            return self._by_code[key]
        except KeyError:
            raise NotFound("division", key) from None

    def children(self, code: DivisionCode) -> list[Division]:
        return sorted((d for d in self._by_code.values() if d.parent == code), key=lambda d: d.code)

    def __iter__(self) -> Iterator[Division]:
        return iter(self._by_code.values())


# -- the province's published list (DESIGN.md section 15) ----------------------------------
#
# A province publishes its whole tree in parts: the part of the province holds the province,
# its cities and its counties; the part of a county holds its townships and villages. A later
# part of a root replaces the earlier one whole, so a re-import publishes only the parts that
# changed, and a county that disappeared gets an empty part.


def part_root(code: DivisionCode) -> DivisionCode:
    """The root of the part a division is published in."""
    if code.tier <= Tier.COUNTY:
        return DivisionCode(code.code[:2].ljust(12, "0"))
    return DivisionCode(code.code[:6].ljust(12, "0"))


def split_parts(divisions: Iterable[Division]) -> dict[str, list[tuple[str, str]]]:
    """(code, name) rows by part root, each part in code order; a county with nothing below it
    in the tree has no part."""
    parts: dict[str, list[tuple[str, str]]] = {}
    for d in divisions:
        parts.setdefault(part_root(d.code).code, []).append((d.code.code, d.name))
    return {root: sorted(rows) for root, rows in parts.items()}


def part_problem(origin: str, root: str, rows: Iterable[tuple[str, str]]) -> str | None:
    """Why a published part breaks the rules, or None: only a province publishes, a part's
    root is the province or one of its counties, and its rows are the root's own."""
    try:
        publisher, top = DivisionCode.parse(origin), DivisionCode.parse(root)
    except InvalidInput as exc:
        return str(exc)
    if publisher.tier != Tier.PROVINCE:
        return "only a province publishes its division list"
    if not publisher.contains(top) or top.tier not in (Tier.PROVINCE, Tier.COUNTY):
        return f"part {root} is neither the province {origin} nor one of its counties"
    for code, name in rows:
        try:
            division = DivisionCode.parse(code)
        except InvalidInput as exc:
            return str(exc)
        if part_root(division) != top:
            return f"{code} does not belong to the part of {root}"
        if not name.strip() or len(name) > 100 or not name.isprintable():
            return f"{code}: a name of 1-100 printable characters is required"
    return None
