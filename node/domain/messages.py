"""What travels on a link once it is up (DESIGN.md section 7), as values: the replication
protocol (sync.pump) speaks these; federation.wire.codec turns them into signed envelopes and
back, so the protocol never sees protobuf.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from node.domain.cursors import Cursor
from node.domain.entries import Addressed, Entry, Head

Key = tuple[str, str, int, str]  # an addressed copy: origin, stream, seq, addressee


@dataclass(frozen=True)
class Ping:
    """Keeps a quiet link alive; the parent answers."""


@dataclass(frozen=True)
class Batch:
    """Entries of one or more streams, each run ending at a head its origin signed. Going out,
    the entries are their stored bytes (`wires`, forwarded unchanged; `entries` empty); coming
    in, both: the decoded entries and the bytes each arrived in, aligned."""

    entries: Sequence[Entry]
    heads: Sequence[Head]
    wires: Sequence[bytes] = ()


@dataclass(frozen=True)
class Ack:
    """What the receiver holds now of the streams a batch carried."""

    cursors: Sequence[Cursor]


@dataclass(frozen=True)
class Deliver:
    """Addressed copies handed to the next hop: stored bytes going out (`wires`, forwarded
    unchanged), decoded copies coming in (`items`)."""

    wires: Sequence[bytes] = ()
    items: Sequence[Addressed] = ()


@dataclass(frozen=True)
class DeliverAck:
    """The copies the next hop has stored (the sender may forget them), and those it refused
    for good with the reason (the sender parks them as dead letters)."""

    keys: Sequence[Key]
    refused: Sequence[tuple[Key, str]] = ()


Message = Ping | Batch | Ack | Deliver | DeliverAck
