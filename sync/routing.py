"""Where an entry goes next: a pure function of division codes (DESIGN.md sections 4 and 7).

Up: a child sends its parent every entry whose origin lies in the child's subtree. Down: a
parent sends a child the public streams of the child's ancestors. Addressed entries climb to
the lowest common ancestor of writer and addressee and descend to the addressee; between
provinces they pass through the two province nodes, which peer.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from node.domain.cursors import CursorSet
from node.domain.divisions import DivisionCode, Tier
from node.domain.entries import Stream


class Direction(StrEnum):
    SELF = "self"  # the addressee is this node
    PARENT = "parent"
    CHILD = "child"
    PEER = "peer"  # another province


@dataclass(frozen=True)
class Hop:
    direction: Direction
    to: DivisionCode | None = None  # the child or peer province; None for self and parent


def next_hop(me: DivisionCode, addressee: DivisionCode) -> Hop:
    """The next node an entry addressed to `addressee` goes to from `me`."""
    if addressee == me:
        return Hop(Direction.SELF)
    if me.contains(addressee):
        child = next(a for a in [addressee, *addressee.ancestors()] if a.parent() == me)
        return Hop(Direction.CHILD, child)
    if me.tier == Tier.PROVINCE:
        province = [addressee, *addressee.ancestors()][-1]
        return Hop(Direction.PEER, province)
    return Hop(Direction.PARENT)


def next_node(me: DivisionCode, addressee: DivisionCode) -> DivisionCode | None:
    """The neighbour an entry for `addressee` is handed to from `me`; None when it is `me`."""
    hop = next_hop(me, addressee)
    if hop.direction == Direction.SELF:
        return None
    if hop.direction == Direction.PARENT:
        parent = me.parent()
        assert parent is not None  # a province never sends to a parent
        return parent
    return hop.to


def may_arrive_from(me: DivisionCode, sender: DivisionCode, addressee: DivisionCode) -> bool:
    """Is `sender` a neighbour an entry for `addressee` may reach `me` from? Never from the
    node it would go back to, and from a peer province only into this province."""
    if next_node(me, addressee) == sender:
        return False
    if me.tier == Tier.PROVINCE and sender.tier == Tier.PROVINCE:
        return me.contains(addressee)
    return True


def goes_up(child: DivisionCode, origin: DivisionCode) -> bool:
    """Does `child` send its parent the streams of `origin`? (its own and its subtree's)"""
    return child.contains(origin)


def goes_down(child: DivisionCode, origin: DivisionCode, stream: str) -> bool:
    """Does a parent send `child` this stream? (the public streams of the child's ancestors)"""
    return stream == Stream.PUBLIC and origin.is_ancestor_of(child)


def sent_back(child: DivisionCode, mine: CursorSet, theirs: CursorSet) -> dict[tuple[str, str], int]:
    """The streams of `child`'s subtree a parent holding `mine` sends back to the child, whose
    Hello said it holds `theirs`: each it holds less of, up to where the parent holds it now. A
    child holds its subtree at least as far as its parent (the parent has them from it), unless
    it lost them: restored from an older backup, or a new disk."""
    return {
        (c.origin, c.stream): c.seq
        for c in mine
        if goes_up(child, DivisionCode(c.origin)) and c.seq > theirs.get(c.origin, c.stream)
    }


def lacking(back: dict[tuple[str, str], int], theirs: CursorSet) -> int:
    """How many entries `back` sends."""
    return sum(seq - theirs.get(origin, stream) for (origin, stream), seq in back.items())
