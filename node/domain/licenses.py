"""Electronic licences (电子证照): what one states, and the rules for issuing and citing one."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from node.domain.errors import InvalidInput


@dataclass(frozen=True)
class License:
    license_no: str
    case_no: str
    item_code: str
    item_name: str
    holder_name: str
    holder_id: str
    issuer: str  # division code of the deciding node
    issued_at: dt.datetime
    valid_until: dt.date | None = None

    def valid_on(self, day: dt.date) -> bool:
        return self.valid_until is None or day <= self.valid_until


def license_no(issuer: str, case_no: str) -> str:
    """One licence per approved case: its number follows from the issuer and the case."""
    return f"L{issuer}-{case_no}"


def check_citable(lic: License, applicant_id: str, today: dt.date) -> None:
    """A licence cited in a later case must be the applicant's own and still valid."""
    if lic.holder_id != applicant_id:
        raise InvalidInput("--license", f"licence {lic.license_no} is not the applicant's")
    if not lic.valid_on(today):
        raise InvalidInput("--license", f"licence {lic.license_no} expired on {lic.valid_until}")
