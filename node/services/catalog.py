"""Catalog use cases: import (publish) items into the public stream, look them up.

An import is one transaction: every item is validated and checked against the tier rule first;
then each new or changed item becomes an `item_published` entry and a catalog row. Re-importing
an unchanged item writes nothing, so imports are idempotent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from federation.wire.certs import code_of
from federation.wire.codec_catalog import item_to_pb
from node import logs
from node.domain.bounds import check
from node.domain.catalog import CatalogItem, check_lower_tier_entry, check_publisher
from node.domain.divisions import DivisionCode, Tier
from node.domain.entries import Kind, Stream
from node.domain.errors import ImportRejected, InvalidInput, NotFound, OperatorError
from node.journal import Journal, Record
from node.services.ports import Clock, IdentitySource
from node.services.projection import Projection
from node.store import Store, Tx

Progress = Callable[[int, int], None]
CHUNK = 500
MAX_ERRAND_CODES = 5000


@dataclass(frozen=True)
class ImportResult:
    published: int
    unchanged: int
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class ErrandsResult:
    changed: int
    unchanged: int


class CatalogService:
    def __init__(
        self,
        me: DivisionCode,
        store: Store,
        journal: Journal,
        projection: Projection,
        clock: Clock,
        identity: IdentitySource,
    ) -> None:
        self.me, self.store, self.journal, self.clock, self.identity = me, store, journal, clock, identity
        self.projection = projection
        self.log = logs.get("catalog")

    def _check_rules(self, items: Sequence[CatalogItem], existing: dict[str, list[tuple[CatalogItem, str]]]) -> None:
        me = self.me
        identity = self.identity() if me.tier == Tier.PROVINCE else None
        peers = frozenset(code_of(r).code for r in identity.peer_roots) if identity is not None else frozenset()
        problems: list[tuple[int, str]] = []
        for i, item in enumerate(items, start=1):
            try:
                check_publisher(me, item, peers)
                for standard, origin in existing.get(item.basic_code, []):
                    if origin != me.code and DivisionCode(origin).is_ancestor_of(me):
                        check_lower_tier_entry(standard, item)
            except OperatorError as exc:
                problems.append((i, str(exc)))
        if problems:
            raise ImportRejected("import", problems, unit="item")

    def import_items(
        self, items: Sequence[CatalogItem], progress: Progress | None = None, keep_errands: bool = False
    ) -> ImportResult:
        """Publish `items` (already validated) in one transaction; raises and writes nothing
        if any item breaks a catalog rule. `keep_errands`: the source does not say which items
        are open to errands (the portal's CSV), so an item already held keeps its flag."""
        now_us = int(self.clock().timestamp() * 1_000_000)
        with self.store.transaction() as tx:
            self.journal.lock(tx, Stream.PUBLIC)  # before reading what it compares against
            current = tx.items(i.implementation_code for i in items)
            if keep_errands:
                items = [
                    replace(i, agent_allowed=held.agent_allowed)
                    if (held := current.get(i.implementation_code)) is not None
                    else i
                    for i in items
                ]
            published, unchanged = self._publish(tx, items, current, now_us, progress)
        warnings = tuple(w for i in items for w in i.warnings)
        self.log.info("catalog_imported", node=self.me.code, published=published, unchanged=unchanged)
        return ImportResult(published, unchanged, warnings)

    def _publish(
        self,
        tx: Tx,
        items: Sequence[CatalogItem],
        current: dict[str, CatalogItem],
        now_us: int,
        progress: Progress | None = None,
    ) -> tuple[int, int]:
        """Check the catalog rules, then write an entry for each item that differs from
        `current` (in a transaction holding the public stream's lock); (published, unchanged)."""
        by_basic: dict[str, list[tuple[CatalogItem, str]]] = {}
        for item, origin in tx.items_with_origin(i.basic_code for i in items):
            by_basic.setdefault(item.basic_code, []).append((item, origin))
        self._check_rules(items, by_basic)
        published = unchanged = 0
        for start in range(0, len(items), CHUNK):
            chunk = [i for i in items[start : start + CHUNK] if current.get(i.implementation_code) != i]
            unchanged += min(CHUNK, len(items) - start) - len(chunk)
            records = [
                Record(Kind.ITEM_PUBLISHED, i.implementation_code, item_to_pb(i).SerializeToString()) for i in chunk
            ]
            entries = self.journal.append(tx, Stream.PUBLIC, records, now_us)
            self.projection.apply(tx, entries)
            published += len(chunk)
            if progress:
                progress(min(start + CHUNK, len(items)), len(items))
        return published, unchanged

    def set_errands(self, codes: Sequence[str], open_: bool) -> ErrandsResult:
        """Open (or close) items of this node's division and subtree to village agents'
        errands: its 代办事项清单, published as implementation entries with `agent_allowed` set,
        replicated down with the rest of the catalog."""
        return self.update_errands(codes, ()) if open_ else self.update_errands((), codes)

    def update_errands(self, opening: Sequence[str], closing: Sequence[str]) -> ErrandsResult:
        """Open the items `opening` and close the items `closing` in one transaction; all or
        nothing: an unknown code, a code in both, or an item implemented outside this node's
        division writes nothing."""
        wanted = {
            check("item_code", c.strip()): open_
            for codes, open_ in ((closing, False), (opening, True))
            for c in codes
            if c.strip()
        }
        both = {c.strip() for c in opening if c.strip()} & {c.strip() for c in closing if c.strip()}
        if both:
            raise InvalidInput("items", f"{sorted(both)[0]} is both opened and closed")
        if not wanted:
            raise InvalidInput("items", "name at least one implementation code (or a CSV of them)")
        if len(wanted) > MAX_ERRAND_CODES:
            raise InvalidInput("items", f"at most {MAX_ERRAND_CODES} codes at a time")
        now_us = int(self.clock().timestamp() * 1_000_000)
        with self.store.transaction() as tx:
            self.journal.lock(tx, Stream.PUBLIC)  # what it reads is what it republishes
            held = tx.items(wanted)
            problems = [
                (n, f"no catalog item {c} at this node")
                if c not in held
                else (n, f"{c} is implemented by {held[c].division_code}, outside this node's division {self.me}")
                for n, c in enumerate(wanted, start=1)
                if c not in held or not self.me.contains(DivisionCode(held[c].division_code))
            ]
            if problems:
                raise ImportRejected("errands", problems, unit="code")
            changed = [replace(held[c], agent_allowed=o) for c, o in wanted.items() if held[c].agent_allowed != o]
            published, _unchanged = self._publish(tx, changed, held, now_us)
        self.log.info("errands_set", node=self.me.code, opened=len(opening), closed=len(closing), changed=published)
        return ErrandsResult(changed=published, unchanged=len(wanted) - published)

    def errands(self, query: str = "", limit: int = 50, after: str = "") -> list[CatalogItem]:
        """The items open to errands held here (every division's list this node receives)."""
        with self.store.read() as tx:
            return tx.list_items(check("query", query), limit, check("after", after, "item_code"), errands=True)

    def get(self, code: str) -> CatalogItem:
        check("item_code", code)
        with self.store.read() as tx:
            item = tx.items([code]).get(code)
        if item is None:
            raise NotFound("catalog item", code)
        return item

    def list(self, query: str = "", limit: int = 50, after: str = "") -> list[CatalogItem]:
        with self.store.read() as tx:
            return tx.list_items(check("query", query), limit, check("after", after, "item_code"))
