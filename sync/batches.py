"""Batches: bounded runs of entries with the origins' signed heads, and the check a receiver
makes before applying one (DESIGN.md section 3).

`split` bounds batches by entry count and bytes. `check_batch` refuses a whole batch on a gap,
a broken chain, an entry with a wrong hash, or a stream whose new entries are not covered by a
head that the origin signed; entries already held are duplicates, acknowledged and skipped.
Verifying one head signature per stream and a hash per entry keeps verification near a
microsecond per entry. Signature checking is passed in (`verify_head`), so this module needs
no keys.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from node.domain.bounds import MAX_BATCH_BYTES, MAX_ENTRY_BODY
from node.domain.cursors import StreamKey
from node.domain.entries import GENESIS, Entry, Head, verify_chain
from node.domain.errors import PeerError

DEFAULT_MAX_ENTRIES = 500
DEFAULT_MAX_BYTES = MAX_BATCH_BYTES


class BatchRefused(PeerError):
    """A batch that breaks a chain rule; nothing of it is applied."""

    def __init__(self, origin: str, stream: str, seq: int, reason: str) -> None:
        super().__init__(f"{origin}/{stream}/{seq}: {reason}")
        self.origin, self.stream, self.seq, self.reason = origin, stream, seq, reason


def entry_size(e: Entry) -> int:
    return len(e.body) + 3 * 32 + len(e.kind) + len(e.subject) + 40


def split(
    entries: Sequence[Entry], max_entries: int = DEFAULT_MAX_ENTRIES, max_bytes: int = DEFAULT_MAX_BYTES
) -> Iterator[list[Entry]]:
    """Consecutive runs of at most `max_entries` entries and about `max_bytes` (an entry larger
    than the byte bound travels alone)."""
    batch: list[Entry] = []
    size = 0
    for e in entries:
        n = entry_size(e)
        if batch and (len(batch) >= max_entries or size + n > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(e)
        size += n
    if batch:
        yield batch


@dataclass(frozen=True)
class Checked:
    new: list[Entry]  # to apply, in order
    duplicates: int  # already held: acknowledged, not applied again
    tails: dict[StreamKey, tuple[int, bytes]]  # the tails after applying `new`


def check_batch(
    entries: Sequence[Entry],
    heads: Sequence[Head],
    tails: Mapping[StreamKey, tuple[int, bytes]],
    verify_head: Callable[[Head], bool],
) -> Checked:
    """Check a received batch against the receiver's stream tails; raise BatchRefused or
    return what to apply."""
    after = dict(tails)
    new: list[Entry] = []
    duplicates = 0
    streams: dict[StreamKey, list[Entry]] = {}
    for e in entries:
        streams.setdefault((e.origin, e.stream), []).append(e)
    for key, group in streams.items():
        seq, last_hash = after.get(key, (0, GENESIS))
        fresh = [e for e in group if e.seq > seq]
        for e in fresh:
            if len(e.body) > MAX_ENTRY_BODY:
                raise BatchRefused(e.origin, e.stream, e.seq, f"a body of {len(e.body)} bytes exceeds {MAX_ENTRY_BODY}")
        duplicates += len(group) - len(fresh)
        fault = verify_chain(fresh, seq, last_hash)
        if fault is not None:
            raise BatchRefused(fault.origin, fault.stream, fault.seq, fault.reason)
        if fresh:
            after[key] = (fresh[-1].seq, fresh[-1].hash)
            new.extend(fresh)
    covered = _covered(heads, after, verify_head)
    for key in {(e.origin, e.stream) for e in new}:
        if key not in covered:
            origin, stream = key
            raise BatchRefused(origin, stream, after[key][0], "no head signed by the origin covers these entries")
    return Checked(new, duplicates, after)


def _covered(
    heads: Sequence[Head],
    after: Mapping[StreamKey, tuple[int, bytes]],
    verify_head: Callable[[Head], bool],
) -> set[StreamKey]:
    """Streams whose new last entry is named by a head with a valid origin signature."""
    covered: set[StreamKey] = set()
    for h in heads:
        key = (h.origin, h.stream)
        if after.get(key) == (h.seq, h.hash):
            if not verify_head(h):
                raise BatchRefused(h.origin, h.stream, h.seq, "head signature does not verify with the origin's key")
            covered.add(key)
    return covered
