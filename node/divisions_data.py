"""The Sichuan division tree shipped inside the package (statistical codes, 2023)."""

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
