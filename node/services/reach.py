"""Which divisions an addressed entry (a custody offer, a notice) may be written to (issue 10):
a division of this node's province that its division list knows (node.services.divisions), or
a division of a peer province whose root this province anchored (checked against the shipped
national list to county level). Anything else is refused at the command: a copy no hop can deliver would
otherwise sit in the outbox, and its refusal at the next hop would break the link.
"""

from __future__ import annotations

from node.divisions_data import national_county_codes
from node.domain.divisions import DivisionCode
from node.domain.errors import InvalidInput
from node.services.divisions import known
from node.store import Tx


def check_addressee(tx: Tx, me: DivisionCode, to: str, field: str) -> DivisionCode:
    code = DivisionCode.parse(to, field)
    if code == me:
        raise InvalidInput(field, "is this node: an addressed entry goes to another node")
    if code.code[:2] == me.code[:2]:
        if not known(tx, code):
            raise InvalidInput(field, f"{code} is no division in this province's division list")
        return code
    anchored = {root_code[:2] for root_code in tx.trusted_root_codes()}
    if code.code[:2] not in anchored:
        raise InvalidInput(field, f"{code} is in a province this province has no link with (no anchored root)")
    if code.code[:6] not in national_county_codes():
        raise InvalidInput(field, f"{code} is no division of the national list")
    return code
