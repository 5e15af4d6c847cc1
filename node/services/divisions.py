"""The divisions a node knows (DESIGN.md section 15): the national tree to county level that the
package ships, and below it the tree its province published (`yiwang divisions import` at the
province: `divisions_published` entries in its public stream, replicated to every node below).
A node names itself and its neighbours from it, and refuses a division code that is in neither.
Nothing here knows one province from another.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from federation.wire.codec_catalog import division_part_body
from node import logs
from node.divisions_data import national
from node.domain.bounds import check, check_entry_body
from node.domain.divisions import Division, DivisionCode, Tier, part_root, split_parts
from node.domain.entries import Kind, Stream
from node.domain.errors import Forbidden, ImportRejected, InvalidInput
from node.journal import Journal, Record
from node.services.catalog_import import numbered_csv, read_text
from node.services.ports import Clock
from node.services.projection import Projection
from node.store import Store, Tx

MAX_ROWS = 300_000  # the largest province has about 70,000 villages
MAX_FILE_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class ImportResult:
    divisions: int
    published: int  # parts written as entries (new or changed)
    unchanged: int  # parts already held as they are in the file
    removed: int  # parts held that the file no longer has (published empty)


def read_divisions_file(path: Path) -> list[Division]:
    """The rows of a division CSV (columns code and name; level and parent_code, when present,
    must agree with the code), `.gz` allowed; raises ImportRejected naming every bad line."""
    if path.exists() and path.stat().st_size > MAX_FILE_BYTES:
        raise InvalidInput("FILE", f"at most {MAX_FILE_BYTES // (1024 * 1024)} MB")
    if path.suffix == ".gz" and path.exists():
        try:
            with gzip.open(path) as f:
                raw = f.read(MAX_FILE_BYTES + 1)  # a small file may unpack to a huge one
            text = raw.decode("utf-8-sig")
        except (OSError, EOFError, UnicodeDecodeError):
            raise ImportRejected(str(path), [(1, "not gzip-compressed UTF-8 text")]) from None
        if len(raw) > MAX_FILE_BYTES:
            raise InvalidInput("FILE", f"unpacked, at most {MAX_FILE_BYTES // (1024 * 1024)} MB")
    else:
        text = read_text(path, "FILE")
    header, rows = numbered_csv(text)
    if not {"code", "name"} <= set(header):
        raise ImportRejected(str(path), [(1, "the header must name the columns code and name")])
    problems: list[tuple[int, str]] = []
    found: dict[str, Division] = {}
    for line, row in rows:
        if len(found) >= MAX_ROWS:
            problems.append((line, f"more than {MAX_ROWS} divisions"))
            break
        why = _row_problem(row, found)
        if isinstance(why, str):
            problems.append((line, why))
        else:
            found[why.code.code] = why
    if not problems:
        problems = _tree_problems(found)
    if problems:
        raise ImportRejected(str(path), problems)
    return list(found.values())


def _row_problem(row: dict[str, str], found: dict[str, Division]) -> Division | str:
    try:
        code = DivisionCode.parse(row.get("code") or "", "code")
        name = check("name", (row.get("name") or "").strip(), "division name")
    except InvalidInput as exc:
        return str(exc)
    if not name:
        return f"{code}: the name is empty"
    if code.code in found:
        return f"{code} is listed twice"
    parent = code.parent()
    level, parent_code = (row.get("level") or "").strip(), (row.get("parent_code") or "").strip()
    if level and level != str(int(code.tier)):
        return f"{code}: level {level}, but the code is of level {int(code.tier)}"
    if parent_code and parent_code != (parent.code if parent else ""):
        return f"{code}: parent_code {parent_code}, but the code's parent is {parent}"
    return Division(code, name, int(code.tier), parent)


def _tree_problems(found: dict[str, Division]) -> list[tuple[int, str]]:
    provinces = {c[:2] for c in found}
    if len(provinces) != 1:
        return [(1, f"the file spans {len(provinces)} provinces; one province publishes its own tree")]
    top = next(iter(provinces)).ljust(12, "0")
    if top not in found:
        return [(1, f"the province's own row {top} is missing")]
    orphans = sorted(d.code.code for d in found.values() if d.parent is not None and d.parent.code not in found)
    return [(1, f"{c}'s parent is not in the file") for c in orphans[:5]]


def known(tx: Tx, code: DivisionCode) -> bool:
    """Whether the province's published list or the national tree has `code`."""
    return code in national() or bool(tx.division_names([code.code]))


class DivisionService:
    def __init__(self, me: DivisionCode, store: Store, journal: Journal, projection: Projection, clock: Clock) -> None:
        self.me, self.store, self.journal, self.projection, self.clock = me, store, journal, projection, clock
        self.log = logs.get("divisions")

    # -- publishing (the province) ----------------------------------------------------------

    def import_file(self, path: Path) -> ImportResult:
        return self.publish(read_divisions_file(path))

    def publish(self, divisions: Sequence[Division]) -> ImportResult:
        """Publish the province's tree: an entry for each part that differs from the part held,
        an empty one for each part held that the tree no longer has; all in one transaction."""
        if self.me.tier != Tier.PROVINCE:
            raise Forbidden(f"only the province publishes its division list; {self.me} is a {self.me.tier.label}")
        outside = [d.code.code for d in divisions if d.code.code[:2] != self.me.code[:2]]
        if outside:
            raise InvalidInput("FILE", f"{outside[0]} is no division of {self.me}: a province publishes its own tree")
        parts = split_parts(divisions)
        bodies = {root: division_part_body(root, rows) for root, rows in parts.items()}
        for root, body in bodies.items():
            try:
                check_entry_body(len(body))
            except InvalidInput:
                raise InvalidInput("FILE", f"the part of {root} has too many divisions for one entry") from None
        now_us = int(self.clock().timestamp() * 1_000_000)
        with self.store.transaction() as tx:
            tail = self.journal.lock(tx, Stream.PUBLIC)
            held = tx.division_part_roots()
            changed = [root for root in sorted(parts) if tx.division_part(root) != parts[root]]
            removed = sorted(held - set(parts))
            records = [Record(Kind.DIVISIONS_PUBLISHED, root, bodies[root]) for root in changed]
            records += [Record(Kind.DIVISIONS_PUBLISHED, root, division_part_body(root, [])) for root in removed]
            if records:
                entries = self.journal.append(tx, Stream.PUBLIC, records, now_us, tail)
                self.projection.apply(tx, entries)
        result = ImportResult(len(divisions), len(changed), len(parts) - len(changed), len(removed))
        self.log.info("divisions_published", parts=result.published, removed=result.removed, divisions=len(divisions))
        return result

    # -- reading (every node) ----------------------------------------------------------------

    def get(self, code: DivisionCode) -> Division | None:
        """The division as the province published it, else as the national tree has it."""
        with self.store.read() as tx:
            name = tx.division_names([code.code]).get(code.code)
        if name is None:
            shipped = national()
            return shipped.get(code) if code in shipped else None
        return Division(code, name, int(code.tier), code.parent())

    def names(self, codes: Iterable[str]) -> dict[str, str]:
        """Names of those of `codes` that are known."""
        wanted = set(codes)
        with self.store.read() as tx:
            out = tx.division_names(wanted)
        shipped = national()
        out.update({c: shipped.get(c).name for c in wanted - out.keys() if c in shipped})
        return out

    def name(self, code: str) -> str:
        return self.names([code]).get(code, "")

    def children(self, code: DivisionCode) -> list[Division]:
        """The known divisions right below `code`, in code order."""
        if code.tier == Tier.VILLAGE:
            return []
        root = code if code.tier == Tier.COUNTY else part_root(code)
        with self.store.read() as tx:
            rows = tx.division_part(root.code)
        found = {c: n for c, n in rows if DivisionCode(c).parent() == code}
        if code.tier < Tier.COUNTY:
            found = {d.code.code: d.name for d in national().children(code)} | found
        return [Division(DivisionCode(c), n, int(code.tier) + 1, code) for c, n in sorted(found.items())]

    def published(self) -> bool:
        """Whether this node holds its province's published list."""
        with self.store.read() as tx:
            return bool(tx.division_part(self.me.code[:2].ljust(12, "0")))

    def require(self, code: DivisionCode, field: str) -> DivisionCode:
        """`code` when it is a known division; InvalidInput saying where the list comes from."""
        with self.store.read() as tx:
            if known(tx, code):
                return code
        if code.tier > Tier.COUNTY and not self.published():
            raise InvalidInput(
                field,
                f"{code}: this node does not hold its province's division list below county level yet; "
                "the province publishes it with `yiwang divisions import FILE`, and it arrives by replication",
            )
        raise InvalidInput(field, f"{code} is no division in the division list (national tree and the province's list)")
