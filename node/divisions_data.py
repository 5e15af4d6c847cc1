"""Division data shipped inside the package: the national tree to county level (statistical
codes, 2023, from ../shared/data), which every node knows, and example province trees that
`yiwang sim` and the demo publish (node/data/divisions_<province>.csv.gz; Sichuan's today). Below
county level a node knows what its own province published (node.services.divisions)."""

from __future__ import annotations

import csv
import gzip
import io
from functools import lru_cache
from importlib import resources
from pathlib import Path

from node.domain.divisions import DivisionRegistry


def _rows(raw: bytes) -> csv.DictReader[str]:
    """The rows of a packaged gzip-compressed division CSV."""
    return csv.DictReader(io.StringIO(gzip.decompress(raw).decode("utf-8")))


def _registry(raw: bytes) -> DivisionRegistry:
    """A tree from the bytes of a packaged gzip-compressed division CSV."""
    return DivisionRegistry.from_rows(_rows(raw))


def _national_bytes() -> bytes:
    return resources.files("node").joinpath("data/divisions_national_l1_l3.csv.gz").read_bytes()


@lru_cache(maxsize=1)
def national() -> DivisionRegistry:
    """Every province, city and county of the country."""
    return _registry(_national_bytes())


@lru_cache(maxsize=4)
def example_tree(province: str) -> DivisionRegistry:
    """The packaged example tree of a province (the demo's and the benchmarks' data)."""
    path = example_file(province)
    if path is None:
        raise LookupError(f"the package ships no example tree of province {province}")
    return _registry(path.read_bytes())


def example_file(province: str) -> Path | None:
    """The packaged example tree of a province (its two-digit prefix), if there is one."""
    for entry in resources.files("node").joinpath("data").iterdir():
        name = entry.name
        if name.startswith("divisions_") and "national" not in name and name.endswith(".csv.gz"):
            with gzip.open(Path(str(entry)), "rt", encoding="utf-8") as f:
                f.readline()
                if f.readline().startswith(province):
                    return Path(str(entry))
    return None


@lru_cache(maxsize=1)
def national_county_codes() -> frozenset[str]:
    """The six-digit codes of every province, city and county of the national tree."""
    # read from the file, not from national(): checking an identity number (every filing) then
    # keeps 3,000 short strings, not the whole tree a village otherwise never needs
    return frozenset(row["code"][:6] for row in _rows(_national_bytes()))
