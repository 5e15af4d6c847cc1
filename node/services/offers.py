"""When a custody offer may be answered and when withdrawn (issue 10, DESIGN.md section 8).

An offer records the day it must be answered by (`answer_by`: the offering node's
`custody.answer_days` working days after the offer), and every node keeps it in the case's
state (`offer_answer_by`). Until that day the node it names may take or decline it; from the
next day on it may not, and the offering node may withdraw it. The offering node may withdraw
at once only when its copy was refused on the way (a dead letter, or discarded) and the node
it named is not its ancestor - an ancestor sees the offer in the offering node's own stream,
whatever became of the copy. The windows do not overlap, so the node named and the offering
node are never both allowed to move the case by the same calendar; what remains is a clock
that is wrong by a day, or a relay that reports a copy refused and forwards it anyway.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from node.domain.divisions import DivisionCode
from node.domain.errors import StateConflict
from node.domain.lifecycle import AcceptCustody, CaseState, DeclineCustody, WithdrawOffer
from node.store.mail import DEAD, DISCARDED

if TYPE_CHECKING:
    from node.store import Tx


def check_offer_terms(
    tx: Tx, state: CaseState, cmd: AcceptCustody | DeclineCustody | WithdrawOffer, today: dt.date
) -> None:
    """Raise StateConflict when `cmd` comes outside its window; nothing to check when the case
    has no open offer (the lifecycle refuses that)."""
    if not state.offered_to:
        return
    answer_by = dt.date.fromisoformat(state.offer_answer_by) if state.offer_answer_by else None
    if not isinstance(cmd, WithdrawOffer):
        if answer_by is not None and today > answer_by:
            raise StateConflict(
                f"case {state.case_no}: the offer had to be answered by {answer_by}; "
                f"{state.custodian} may withdraw it, or offer the case again"
            )
        return
    if answer_by is not None and today > answer_by:
        return
    if _undeliverable(tx, state):
        return
    if answer_by is None:
        raise StateConflict(
            f"case {state.case_no}: the offer to {state.offered_to} names no answer date; "
            "it can be withdrawn only when its copy is a dead letter (`yiwang mail dead`)"
        )
    raise StateConflict(
        f"case {state.case_no}: {state.offered_to} may answer the offer until {answer_by}; withdraw it after that day"
    )


def _undeliverable(tx: Tx, state: CaseState) -> bool:
    """The offer's copy was refused on the way, and the node it named cannot have seen the offer
    any other way."""
    if DivisionCode(state.offered_to).is_ancestor_of(DivisionCode(state.custodian)):
        return False
    return tx.offer_copy_state(state.case_no, state.custodian, state.offered_to) in (DEAD, DISCARDED)
