"""Division data shipped inside the package: the Sichuan tree (statistical codes, 2023) and the
national tree to county level (from ../shared/data)."""

from __future__ import annotations

import csv
import gzip
import io
from functools import lru_cache
from importlib import resources

from node.domain.divisions import DivisionRegistry


@lru_cache(maxsize=1)
def sichuan() -> DivisionRegistry:
    raw = resources.files("node").joinpath("data/divisions_sichuan.csv.gz").read_bytes()
    text = gzip.decompress(raw).decode("utf-8")
    return DivisionRegistry.from_rows(csv.DictReader(io.StringIO(text)))


@lru_cache(maxsize=1)
def national_county_codes() -> frozenset[str]:
    """The six-digit codes of every province, city and county of the national tree."""
    raw = resources.files("node").joinpath("data/divisions_national_l1_l3.csv.gz").read_bytes()
    rows = csv.DictReader(io.StringIO(gzip.decompress(raw).decode("utf-8")))
    return frozenset(r["code"][:6] for r in rows)
