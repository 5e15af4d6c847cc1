"""Cursors: how far each (origin, stream) has been received and acknowledged.

A receiver reports its cursors in Hello and in every Ack; a sender resumes from them after a
disconnect or a crash, so nothing is sent twice that was acknowledged and nothing is skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from node.domain.errors import Recovering

StreamKey = tuple[str, str]  # (origin, stream)


@dataclass(frozen=True, order=True)
class Cursor:
    origin: str
    stream: str
    seq: int


class CursorSet:
    """The highest seq held per (origin, stream); absent means nothing held (0)."""

    def __init__(self, cursors: Iterable[Cursor] = ()) -> None:
        self._seq: dict[StreamKey, int] = {}
        for c in cursors:
            self.advance(c.origin, c.stream, c.seq)

    def get(self, origin: str, stream: str) -> int:
        return self._seq.get((origin, stream), 0)

    def advance(self, origin: str, stream: str, seq: int) -> None:
        """Move forward only: an old or repeated acknowledgement changes nothing."""
        if seq > self._seq.get((origin, stream), 0):
            self._seq[(origin, stream)] = seq

    def behind(self, tails: Mapping[StreamKey, int]) -> Iterator[tuple[StreamKey, int, int]]:
        """Streams where `tails` (what a sender holds) is ahead: (key, first missing, last)."""
        for key, last in sorted(tails.items()):
            have = self._seq.get(key, 0)
            if last > have:
                yield key, have + 1, last

    def __iter__(self) -> Iterator[Cursor]:
        return (Cursor(o, s, q) for (o, s), q in sorted(self._seq.items()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CursorSet) and self._seq == other._seq

    def __repr__(self) -> str:
        return f"CursorSet({list(self)})"


def own_streams_behind(mine: CursorSet, theirs: CursorSet, me: str) -> list[tuple[str, int, int]]:
    """(stream, this node's seq, the peer's seq) for each of this node's own streams the peer
    holds further than this node itself does."""
    return [
        (c.stream, mine.get(me, c.stream), c.seq) for c in theirs if c.origin == me and c.seq > mine.get(me, c.stream)
    ]


UNCHECKED = "*"  # in the marks of streams behind the parent: not yet asked since a restore


def behind_problem(behind: dict[str, int], stream: str) -> Recovering | None:
    """Why this node may not write to its own `stream` now (None: it may), from the marks of
    its own streams its parent holds further (node_meta, set by the link to the parent)."""
    if UNCHECKED in behind:
        return Recovering(stream, None)
    if stream in behind:
        return Recovering(stream, behind[stream])
    return None
