"""Replicas of other nodes' streams: applying a received batch, choosing what to send a peer.

Applying: streams are checked in a fixed order - public before case, shallower origins first -
so that a parent's `cert_issued` entries (which register its children's keys) are applied
before the heads of those children are verified. A key is accepted only from the code's own
issuer. Every batch applies its entries, the origins' heads as received (never re-signed),
the derived rows and the stream tails in one transaction; a broken rule refuses all of it.

Sending: per stream the receiver lacks, entries up to a head the origin signed, so every batch
ends on a signature the receiver can check.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass

from federation.wire.certs import public_key_of
from federation.wire.codec import entry_from_wire
from federation.wire.codec_catalog import calendar_from_body, endorsement_body, issued_from_body, item_to_pb
from federation.wire.keys import Purpose, Signature, load_public_key, verify
from federation.wire.suites import PublicKey
from node import logs
from node.bell import Bell
from node.domain.catalog import CatalogItem
from node.domain.cursors import UNCHECKED, Cursor, CursorSet, own_streams_behind
from node.domain.divisions import DivisionCode
from node.domain.entries import Entry, Head, Kind, Stream, hash_alg
from node.journal import Journal, Record
from node.services.ports import CalendarCache, Clock
from node.services.projection import Projection
from node.store import Store, Tx
from sync.batches import DEFAULT_MAX_BYTES, DEFAULT_MAX_ENTRIES, BatchRefused, check_batch
from sync.pump import Back
from sync.routing import goes_down, goes_up

OriginKey = tuple[str, PublicKey]  # an origin's code and its head-signing key


def OWN_STREAMS(me: str) -> list[tuple[str, str]]:
    return [(me, Stream.CASE), (me, Stream.PUBLIC)]


def _order(key: tuple[str, str]) -> tuple[int, int, str]:
    origin, stream = key
    return (0 if stream == Stream.PUBLIC else 1, DivisionCode(origin).tier, origin)


@dataclass(frozen=True)
class Outgoing:
    """The next batch: each entry as its stored bytes (a relayed entry's exactly as it arrived),
    the heads its runs end on, and where each stream then stands at the peer."""

    wires: list[bytes]
    heads: list[Head]
    reached: list[Cursor]

    @property
    def entries(self) -> list[Entry]:
        """The entries decoded (for callers that apply them in process)."""
        return [entry_from_wire(w) for w in self.wires]


class ReplicaService:
    def __init__(
        self,
        me: DivisionCode,
        store: Store,
        journal: Journal,
        projection: Projection,
        clock: Clock,
        calendar: CalendarCache,
        bell: Bell,
    ) -> None:
        self.me, self.store, self.journal, self.clock = me, store, journal, clock
        self.projection, self.calendar, self.bell = projection, calendar, bell
        self.log = logs.get("replica")
        self._keys: dict[bytes, tuple[str, PublicKey]] = {}

    # -- receiving ------------------------------------------------------------------------

    def _verifier(self, tx: Tx, needed: set[bytes]) -> dict[bytes, tuple[str, PublicKey]]:
        """Origin keys by key id: cached, and read from the store only for ids not seen yet."""
        missing = needed - self._keys.keys()
        if missing:
            for kid, (origin, pem) in tx.origin_keys(missing).items():
                self._keys[kid] = (origin, load_public_key(pem))
        return self._keys

    def apply_batch(self, entries: Sequence[Entry], heads: Sequence[Head], wires: Sequence[bytes] = ()) -> list[Cursor]:
        """Verify and apply a batch from a neighbour; returns the cursors to acknowledge (of
        the streams the batch carried). `wires`: the bytes each entry arrived in, stored to be
        forwarded unchanged. A transaction the database aborted for a deadlock or a
        serialization failure is run again; nothing of an aborted one was kept."""
        return self.store.retrying(lambda: self._apply_batch(entries, heads, wires))

    def _apply_batch(self, entries: Sequence[Entry], heads: Sequence[Head], wires: Sequence[bytes]) -> list[Cursor]:
        me = self.me.code
        with self.store.transaction() as tx:
            # This node's own tails first (case, then public: the order every writer takes
            # them in), so the projection and a republish never race a local command; then the
            # streams the batch carries, in key order.
            tx.lock_tails(OWN_STREAMS(me))
            tails_before = tx.lock_tails((e.origin, e.stream) for e in entries)
            tails = dict(tails_before)
            # keys this batch registers are cached only once it commits
            keys = ChainMap(dict[bytes, tuple[str, PublicKey]](), self._verifier(tx, {h.key_id for h in heads}))

            def verify_head(h: Head) -> bool:
                known = keys.get(h.key_id)
                return (
                    known is not None
                    and known[0] == h.origin
                    and hash_alg(h.hash) == known[1].suite.entry_hash_alg  # an SM2 origin chains with SM3
                    and verify(known[1], Purpose.HEAD, h.message(), Signature(h.alg, h.key_id, h.signature))
                )

            new: list[Entry] = []
            behind = tx.behind()
            for key in sorted({(e.origin, e.stream) for e in entries}, key=_order):
                if key[0] == me and key[1] not in behind:  # they come back only while it recovers them
                    raise BatchRefused(key[0], key[1], 0, "entries of this node's own stream came back")
                group = [e for e in entries if (e.origin, e.stream) == key]
                checked = check_batch(group, [h for h in heads if (h.origin, h.stream) == key], tails, verify_head)
                tails.update(checked.tails)
                for e in checked.new:
                    if e.kind == Kind.CERT_ISSUED:
                        self._register_key(tx, keys, e)
                new.extend(checked.new)
            if wires:
                wire_of = {(e.origin, e.stream, e.seq): w for e, w in zip(entries, wires, strict=True)}
                tx.append_remote(new, tails_before, [wire_of[(e.origin, e.stream, e.seq)] for e in new])
            else:
                tx.append_remote(new, tails_before)
            tx.put_heads([h for h in heads if tails.get((h.origin, h.stream)) == (h.seq, h.hash)])
            if behind:  # own streams got back up to where the parent held them: writable again
                still = {st: q for st, q in behind.items() if st == UNCHECKED or tails.get((me, st), (0, b""))[0] < q}
                if still != behind:
                    tx.set_behind(still)
            projected = self.projection.apply(tx, new)
            for e, why in projected.refused:  # stored (the chain stays whole), without effect
                detail = f"{e.origin}/{e.stream}/{e.seq} {e.kind}: {why}"
                tx.raise_alarm(int(self.clock().timestamp() * 1_000_000), "warning", "EntryRefused", e.origin, detail)
                self.log.warning("entry_refused", origin=e.origin, seq=e.seq, kind=e.kind)
            if projected.cross_region:
                self._republish(tx, projected.cross_region)
            if projected.endorse:
                self._endorse(tx, projected.endorse)
        self._keys.update(keys.maps[0])
        if projected.calendar_changed:
            self.calendar.forget()
        if new:
            self.bell.ring()
            self.log.info("batch_applied", entries=len(new), streams=len({(e.origin, e.stream) for e in new}))
        return [Cursor(o, s, q) for (o, s), (q, _) in sorted(tails.items())]

    def _register_key(self, tx: Tx, keys: MutableMapping[bytes, tuple[str, PublicKey]], e: Entry) -> None:
        """A certificate an origin issued to one of its children: that child's key, for its heads."""
        code, der = issued_from_body(e.body)
        if DivisionCode.parse(code).parent() != DivisionCode(e.origin):
            raise BatchRefused(e.origin, e.stream, e.seq, f"{e.origin} may not certify {code}")
        public = public_key_of(der)
        tx.put_origin_key(code, public.key_id, public.pem)
        keys[public.key_id] = (code, public)

    def _republish(self, tx: Tx, items: Sequence[CatalogItem]) -> None:
        """A province publishes its descendants' cross-region (通办) items in its own public
        stream, which reaches every node of the province: any village can then file them."""
        now_us = int(self.clock().timestamp() * 1_000_000)
        tail = self.journal.lock(tx, Stream.PUBLIC)
        records = [Record(Kind.ITEM_PUBLISHED, i.implementation_code, item_to_pb(i).SerializeToString()) for i in items]
        entries = self.journal.append(tx, Stream.PUBLIC, records, now_us, tail)
        self.projection.apply(tx, entries)

    def _endorse(self, tx: Tx, entries: Sequence[Entry]) -> None:
        """A province passes a delegated division's local holidays on in its own public stream:
        nodes outside that subtree holding its cases (a cross-region case's filing node) count
        them too."""
        now_us = int(self.clock().timestamp() * 1_000_000)
        tail = self.journal.lock(tx, Stream.PUBLIC)
        records = [
            Record(
                Kind.LOCAL_CALENDAR_ENDORSED, e.subject, endorsement_body(e.origin, e.seq, calendar_from_body(e.body))
            )
            for e in entries
        ]
        self.projection.apply(tx, self.journal.append(tx, Stream.PUBLIC, records, now_us, tail))

    # -- sending --------------------------------------------------------------------------

    def _head_every(self, theirs: CursorSet, max_entries: int) -> None:
        """Batches end on signed heads. A bulk write signs one head for thousands of entries, so
        where this node's own stream has none within `max_entries` of what the peer holds, sign
        one there: a slow link that shrank its batches can then still send bounded ones."""
        me = self.me.code
        with self.store.read() as tx:
            wanted = []
            for stream in (Stream.PUBLIC, Stream.CASE):
                have, (tail, _) = theirs.get(me, stream), tx.tail(me, stream)
                ends = tx.head_seqs(me, stream, have) if tail > have + max_entries else [have + 1]
                if ends and ends[0] > have + max_entries:
                    wanted.append((stream, have + max_entries))
        if not wanted:
            return
        now_us = int(self.clock().timestamp() * 1_000_000)
        with self.store.transaction() as tx:
            for stream, seq in wanted:
                (entry,) = tx.entries_between(me, stream, seq - 1, seq)
                self.journal.sign_head(tx, stream, seq, entry.hash, now_us)

    def behind_parent(self, theirs: CursorSet) -> list[tuple[str, int, int]]:
        """(stream, this node's seq, the parent's) of each own stream the parent holds further,
        per the parent's Hello `theirs`. Marks them (replacing the marks, a restore's too): the
        journal writes none of them until the parent has sent them back."""
        me = self.me.code
        with self.store.transaction() as tx:
            tx.lock_tails(OWN_STREAMS(me))
            mine = CursorSet(Cursor(me, st, tx.tail(me, st)[0]) for _, st in OWN_STREAMS(me))
            behind = own_streams_behind(mine, theirs, me)
            tx.set_behind({st: held for st, _, held in behind})
        return behind

    def lag(self, peer: DivisionCode, up: bool, theirs: CursorSet) -> int:
        """Entries `peer` should have and has not acknowledged (for `yiwang status`)."""
        me = self.me
        with self.store.read() as tx:
            tails = tx.tails()
        lacking = 0
        for (origin, stream), (seq, _) in tails.items():
            code = DivisionCode(origin)
            if goes_up(me, code) if up else goes_down(peer, code, stream):
                lacking += max(0, seq - theirs.get(origin, stream))
        return lacking

    def cursors(self) -> CursorSet:
        """Everything this node holds, for its Hello and Acks."""
        with self.store.read() as tx:
            return CursorSet(Cursor(o, s, q) for (o, s), (q, _) in tx.tails().items())

    def outgoing(
        self,
        peer: DivisionCode,
        up: bool,
        theirs: CursorSet,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_bytes: int = DEFAULT_MAX_BYTES,
        *,
        back: Back | None = None,
    ) -> Outgoing:
        """The next batch for `peer` (our parent when `up`, else a child): what it lacks of the
        streams it should get, each run ending at a head its origin signed. `back`: streams of
        a child's subtree it lost (sent_back), sent up to where they stood then and no further,
        so what the child sends up afterwards never comes back down to it."""
        me = self.me
        if up:
            self._head_every(theirs, max_entries)
        wires: list[bytes] = []
        heads: list[Head] = []
        reached: list[Cursor] = []
        size = 0
        with self.store.read() as tx:
            for (origin, stream), (seq, _) in sorted(tx.tails().items(), key=lambda kv: _order(kv[0])):
                code = DivisionCode(origin)
                wanted = goes_up(me, code) if up else goes_down(peer, code, stream)
                if not wanted and back and (origin, stream) in back:
                    wanted, seq = True, min(seq, back[(origin, stream)])
                have = theirs.get(origin, stream)
                if not wanted or seq <= have:
                    continue
                room = max(max_entries - len(wires), 1)
                ends = [h for h in tx.head_seqs(origin, stream, have) if h <= seq]
                if not ends:
                    continue
                limit = max((h for h in ends if h <= have + room), default=ends[0])
                run = tx.entry_wires_between(origin, stream, have, limit)  # seqs have+1 .. limit
                # cut at the last head whose run still fits the byte bound (at least the first head)
                head_set, end, run_bytes, cut, acc = set(ends), ends[0], 0, 0, 0
                for i, wire in enumerate(run):
                    acc += len(wire)
                    seq_i = have + 1 + i
                    if seq_i in head_set and (seq_i == ends[0] or size + acc <= max_bytes):
                        end, run_bytes, cut = seq_i, acc, i + 1
                if wires and size + run_bytes > max_bytes:
                    break  # the next batch takes this stream
                wires.extend(run[:cut])
                size += run_bytes
                head = tx.head_at(origin, stream, end)
                assert head is not None
                heads.append(head)
                reached.append(Cursor(origin, stream, end))
                if len(wires) >= max_entries or size >= max_bytes:
                    break
        return Outgoing(wires, heads, reached)
