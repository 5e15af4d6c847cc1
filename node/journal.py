"""Appending to the node's own log: sequence numbers, the hash chain and signed heads.

Every change goes through `Journal.append` inside the transaction that updates the derived
tables, so an entry and its effects commit or vanish together. One head is signed per append
call, which is per command on the operator path and per batch on bulk paths.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from federation.wire.keys import NodeKey, Purpose
from node.domain.bounds import check_entry_body
from node.domain.cursors import UNCHECKED, behind_problem
from node.domain.entries import Entry, Head, check_hash_alg, entry_hash, head_message
from node.store import Tx


class Record(NamedTuple):
    """What a handler wants written: the log fills in seq, prev_hash and hash."""

    kind: str
    subject: str
    body: bytes


class Journal:
    """Appends to this node's streams.

    Writers call `lock` first, before reading any state they will change: it locks the
    stream's tail row (PostgreSQL; SQLite writers are serialised by BEGIN IMMEDIATE), so two
    writers never decide on the same stale state (two acceptances of one case)."""

    def __init__(self, origin: str, key: NodeKey) -> None:
        check_hash_alg(key.suite.entry_hash_alg)
        self.origin = origin
        self.key = key

    def lock(self, tx: Tx, stream: str) -> tuple[int, bytes]:
        """Lock `stream` for this transaction and return its tail (seq, hash)."""
        return tx.tail(self.origin, stream)

    def append(
        self, tx: Tx, stream: str, records: Sequence[Record], now_us: int, tail: tuple[int, bytes] | None = None
    ) -> list[Entry]:
        """Chain `records` onto `stream`, store them and a signed head; return the entries.
        `tail` is the stream's (seq, hash) when the caller already read (and locked) it."""
        if not records:
            return []
        problem = behind_problem(tx.behind((stream, UNCHECKED)), stream)
        if problem is not None:
            raise problem
        seq, prev = tail if tail is not None else tx.tail(self.origin, stream)
        start = seq
        entries: list[Entry] = []
        append, origin, alg = entries.append, self.origin, self.key.suite.entry_hash_alg
        for kind, subject, body in records:
            check_entry_body(len(body))
            seq += 1
            digest = entry_hash(origin, stream, seq, prev, kind, body, alg)
            append(Entry(origin, stream, seq, prev, kind, body, digest, subject, now_us))
            prev = digest
        tx.append_entries(entries, start)
        self.sign_head(tx, stream, seq, prev, now_us)
        return entries

    def sign_head(self, tx: Tx, stream: str, seq: int, hash_: bytes, now_us: int) -> Head:
        """Sign and store a head of this node's `stream` at `seq` (whose entry hash is `hash_`)."""
        sig = self.key.sign(Purpose.HEAD, head_message(self.origin, stream, seq, hash_, now_us))
        head = Head(self.origin, stream, seq, hash_, now_us, sig.alg, sig.key_id, sig.value)
        tx.put_head(head)
        return head
