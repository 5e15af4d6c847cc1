"""Identifier validation: resident identity numbers (GB 11643-1999) and unified social credit
codes (GB 32100-2015).

An identity number's first two digits must be a province-level code or a residence permit's
(81 Hong Kong, 82 Macau, 83 Taiwan residents); its first six only warn when the current
division list does not know them, since a person keeps the county code of first registration
for life, even after that county is abolished or renumbered. A credit code's registration
authority and organisation type must be a pair of GB 32100's table (with the later
authorities A and N), and its characters 9-17, the GB 11714 organisation code, must pass that
standard's check.

Errors never echo a whole identifier (it is personal data); they show its masked form.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Container
from dataclasses import dataclass

from node.domain.errors import InvalidInput, mask

_RID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RID_CHECK = "10X98765432"
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
# Legally issued early pilot codes that fail the MOD-31 check (Fujian, before the standard
# settled). They are accepted with a warning; the list is in ../shared/data/identifier_vectors.
KNOWN_USCC_EXCEPTIONS = frozenset({"91350100M0001TGQXM", "91350211M0000XUF46", "91350203M0001FUE2P"})


# Province-level division codes (GB/T 2260) and the residence permits' codes.
PROVINCE_CODES = frozenset(
    {
        "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42",
        "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71",
    }
)  # fmt: skip
RESIDENCE_PERMITS = {"81": "Hong Kong", "82": "Macau", "83": "Taiwan"}

# GB 32100-2015 table 1 (and its later rows A, N): registration authority -> organisation types.
USCC_TYPES: dict[str, str] = {
    "1": "1239",  # 机构编制: 机关, 事业单位, 中央编办直管群众团体, 其他
    "2": "19",  # 外交
    "3": "123459",  # 司法行政: 律师执业机构, 公证处, 基层法律服务所, 司法鉴定机构, 仲裁委员会, 其他
    "4": "19",  # 文化
    "5": "1239",  # 民政: 社会团体, 民办非企业单位, 基金会, 其他
    "6": "129",  # 旅游
    "7": "129",  # 宗教
    "8": "19",  # 工会
    "9": "123",  # 工商 (市场监管): 企业, 个体工商户, 农民专业合作社
    "A": "19",  # 中央军委改革和编制办公室
    "N": "1239",  # 农业: 组级, 村级, 乡镇级集体经济组织, 其他
    "Y": "1",  # 其他
}
_ORG_VALUES = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def organisation_code_check_char(body8: str) -> str:
    """GB 11714's check character of an 8-character organisation code body."""
    total = sum(_ORG_VALUES.index(c) * w for c, w in zip(body8, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


@dataclass(frozen=True)
class CheckedId:
    """A normalised identifier and, for a known exception, the warning to show the operator."""

    value: str
    warning: str | None = None


def resident_id_check_char(first17: str) -> str:
    total = sum(int(c) * w for c, w in zip(first17, _RID_WEIGHTS, strict=True))
    return _RID_CHECK[total % 11]


def validate_resident_id(raw: str, today: dt.date | None = None, counties: Container[str] | None = None) -> CheckedId:
    """Validate an 18-character resident identity number; lower-case x is normalised to X.
    `counties`: the six-digit county codes of the current division list, for a warning."""
    value = raw.strip().upper()
    field = "identity number"
    if len(value) == 15 and value.isdigit():
        raise InvalidInput(field, "15-digit first-generation numbers are not accepted; use the 18-digit number")
    if len(value) != 18:
        raise InvalidInput(field, f"{mask(value)} has {len(value)} characters, not 18")
    if not value[:17].isdigit() or not (value[17].isdigit() or value[17] == "X"):
        raise InvalidInput(field, f"{mask(value)}: 17 digits then a digit or X expected")
    if value[:2] not in PROVINCE_CODES and value[:2] not in RESIDENCE_PERMITS:
        raise InvalidInput(field, f"{mask(value)}: region code {value[:2]} is no province or residence permit code")
    try:
        born = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise InvalidInput(field, f"{mask(value)}: the birth date in digits 7-14 does not exist") from None
    if born.year < 1800 or (today is not None and born > today):
        raise InvalidInput(field, f"{mask(value)}: birth year {born.year} is not plausible")
    expected = resident_id_check_char(value[:17])
    if value[17] != expected:
        raise InvalidInput(field, f"{mask(value)}: check character does not match (typing error?)")
    if counties is not None and value[:2] not in RESIDENCE_PERMITS and value[:6] not in counties:
        return CheckedId(
            value, f"{mask(value)}: county code {value[:6]} is not in the current division list (kept from an old one?)"
        )
    return CheckedId(value)


def credit_code_check_char(first17: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def validate_credit_code(raw: str, field: str = "credit code", masked: bool = False) -> CheckedId:
    """Validate an 18-character unified social credit code (GB 32100). With `masked`, errors
    show the value masked (an applicant may have typed a person's identity number)."""
    value = raw.strip().upper()
    shown = mask(value) if masked else repr(value)
    if len(value) != 18:
        raise InvalidInput(field, f"{shown} has {len(value)} characters, not 18")
    bad = sorted({c for c in value if c not in USCC_ALPHABET})
    if bad:
        raise InvalidInput(field, f"{shown}: characters {''.join(bad)} are not in the GB 32100 alphabet")
    types = USCC_TYPES.get(value[0])
    if types is None:
        raise InvalidInput(field, f"{shown}: {value[0]} is no registration authority of GB 32100")
    if value[1] not in types:
        raise InvalidInput(field, f"{shown}: authority {value[0]} registers no organisation type {value[1]}")
    if not value[2:8].isdigit():
        raise InvalidInput(field, f"{shown}: characters 3-8 must be the registering division code")
    known = value in KNOWN_USCC_EXCEPTIONS
    if organisation_code_check_char(value[8:16]) != value[16] and not known:
        raise InvalidInput(field, f"{shown}: the organisation code in characters 9-17 fails its GB 11714 check")
    expected = credit_code_check_char(value[:17])
    if value[17] != expected:
        if known:
            return CheckedId(value, f"{value} fails the GB 32100 check but is a known legally issued code")
        raise InvalidInput(field, f"{shown}: check character should be {expected}")
    return CheckedId(value)
