"""`yiwang audit verify`: recompute every hash chain and check every signed head.

Reports the first bad entry of each stream (origin, stream, seq, reason). It reads only; a
fault is reported, never repaired.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from federation.wire.keys import Purpose, Signature, load_public_key, verify
from federation.wire.suites import PublicKey
from node.domain.entries import GENESIS, ChainFault, Head, verify_chain
from node.store import Store


@dataclass(frozen=True)
class StreamReport:
    origin: str
    stream: str
    entries: int
    heads: int
    fault: ChainFault | None


class AuditService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def heads(self) -> list[Head]:
        """The latest signed head of every stream this node holds."""
        with self.store.read() as tx:
            return [h for origin, stream, _, _ in tx.streams() if (h := tx.latest_head(origin, stream)) is not None]

    def verify(self) -> list[StreamReport]:
        reports = []
        with self.store.read() as tx:
            keys = {kid: load_public_key(pem) for kid, (_, pem) in tx.origin_keys().items()}
            for origin, stream, tail_seq, tail_hash in tx.streams():
                entries = list(tx.entries(origin, stream))
                fault = verify_chain(entries)
                hashes = {e.seq: e.hash for e in entries}
                last = (entries[-1].seq, entries[-1].hash) if entries else (0, GENESIS)
                if fault is None and last != (tail_seq, tail_hash):
                    fault = ChainFault(origin, stream, tail_seq, "the stream's tail does not match its last entry")
                heads = tx.heads(origin, stream)
                if fault is None:
                    fault = self._check_heads(origin, stream, heads, hashes, keys)
                reports.append(StreamReport(origin, stream, len(entries), len(heads), fault))
        return reports

    @staticmethod
    def _check_heads(
        origin: str,
        stream: str,
        heads: Sequence[Head],
        hashes: Mapping[int, bytes],
        keys: Mapping[bytes, PublicKey],
    ) -> ChainFault | None:
        for h in heads:
            if hashes.get(h.seq) != h.hash:
                return ChainFault(origin, stream, h.seq, "signed head names a hash the chain does not hold")
            key = keys.get(h.key_id)
            if key is None:
                return ChainFault(origin, stream, h.seq, "head signed by an unknown key")
            if not verify(key, Purpose.HEAD, h.message(), Signature(h.alg, h.key_id, h.signature)):
                return ChainFault(origin, stream, h.seq, "head signature does not verify")
        return None
