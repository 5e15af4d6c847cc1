"""When a custody offer may be answered and when withdrawn (issue 10, DESIGN.md section 8).

An offer records the day it must be answered by (`answer_by`: the offering node's
`custody.answer_days` working days after the offer). Until that day the node it names may take
or decline it; from the next day on it may not, and the offering node may withdraw it - at
once when its copy was refused on the way (a dead letter, or discarded), since then the
addressee never had it. The windows do not overlap, so an answer and a withdrawal of one offer
are never both allowed on the same day by the same calendar; what remains is an answer written
on the last day that reaches the offering node after it withdrew (a partition longer than a
working day), which every node then applies in the order it receives them (see the note in
docs/protocol.md).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from federation.wire.codec import addressed_from_wire
from federation.wire.codec_cases import case_record
from node.domain.errors import StateConflict
from node.domain.lifecycle import CaseState, OfferCustody, WithdrawOffer
from node.store.mail import DEAD, DISCARDED

if TYPE_CHECKING:
    from node.domain.lifecycle import AcceptCustody, DeclineCustody
    from node.store import Tx


def check_offer_terms(
    tx: Tx, state: CaseState, cmd: AcceptCustody | DeclineCustody | WithdrawOffer, today: dt.date
) -> None:
    """Raise StateConflict when `cmd` comes outside its window; nothing to check when the case
    has no open offer (the lifecycle refuses that) or the offer predates answer-by days."""
    if not state.offered_to:
        return
    copy = tx.offer_copy(state.case_no, state.custodian, state.offered_to)
    if copy is None:
        return
    wire, copy_state = copy
    offer = case_record(addressed_from_wire(wire).entry.body).command
    answer_by = offer.answer_by if isinstance(offer, OfferCustody) else ""
    if isinstance(cmd, WithdrawOffer):
        if copy_state in (DEAD, DISCARDED):
            return
        if not answer_by:
            raise StateConflict(
                f"case {state.case_no}: the offer to {state.offered_to} names no answer date; "
                "it can be withdrawn only when its copy is a dead letter (`yiwang mail dead`)"
            )
        if today <= dt.date.fromisoformat(answer_by):
            raise StateConflict(
                f"case {state.case_no}: {state.offered_to} may answer the offer until {answer_by}; "
                "withdraw it after that day"
            )
    elif answer_by and today > dt.date.fromisoformat(answer_by):
        raise StateConflict(
            f"case {state.case_no}: the offer had to be answered by {answer_by}; "
            f"{state.custodian} may withdraw it, or offer the case again"
        )
