"""Identifier validation: resident identity numbers (GB 11643-1999) and unified social credit
codes (GB 32100-2015).

Errors never echo a whole identifier (it is personal data); they show its masked form.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from node.domain.errors import InvalidInput, mask

_RID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RID_CHECK = "10X98765432"
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
# Legally issued early pilot codes that fail the MOD-31 check (Fujian, before the standard
# settled). They are accepted with a warning; the list is in ../shared/data/identifier_vectors.
KNOWN_USCC_EXCEPTIONS = frozenset({"91350100M0001TGQXM", "91350211M0000XUF46", "91350203M0001FUE2P"})


@dataclass(frozen=True)
class CheckedId:
    """A normalised identifier and, for a known exception, the warning to show the operator."""

    value: str
    warning: str | None = None


def resident_id_check_char(first17: str) -> str:
    total = sum(int(c) * w for c, w in zip(first17, _RID_WEIGHTS, strict=True))
    return _RID_CHECK[total % 11]


def validate_resident_id(raw: str, today: dt.date | None = None) -> CheckedId:
    """Validate an 18-character resident identity number; lower-case x is normalised to X."""
    value = raw.strip().upper()
    field = "identity number"
    if len(value) == 15 and value.isdigit():
        raise InvalidInput(field, "15-digit first-generation numbers are not accepted; use the 18-digit number")
    if len(value) != 18:
        raise InvalidInput(field, f"{mask(value)} has {len(value)} characters, not 18")
    if not value[:17].isdigit() or not (value[17].isdigit() or value[17] == "X"):
        raise InvalidInput(field, f"{mask(value)}: 17 digits then a digit or X expected")
    if not 11 <= int(value[:2]) <= 82:
        raise InvalidInput(field, f"{mask(value)}: region code {value[:2]} is no province")
    try:
        born = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise InvalidInput(field, f"{mask(value)}: the birth date in digits 7-14 does not exist") from None
    if born.year < 1800 or (today is not None and born > today):
        raise InvalidInput(field, f"{mask(value)}: birth year {born.year} is not plausible")
    expected = resident_id_check_char(value[:17])
    if value[17] != expected:
        raise InvalidInput(field, f"{mask(value)}: check character does not match (typing error?)")
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
    if not value[2:8].isdigit():
        raise InvalidInput(field, f"{shown}: characters 3-8 must be the registering division code")
    expected = credit_code_check_char(value[:17])
    if value[17] != expected:
        if value in KNOWN_USCC_EXCEPTIONS:
            return CheckedId(value, f"{value} fails the GB 32100 check but is a known legally issued code")
        raise InvalidInput(field, f"{shown}: check character should be {expected}")
    return CheckedId(value)
