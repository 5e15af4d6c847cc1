"""Monthly sign-off of statistics (issue 11, DESIGN.md section 10; DHIS2's data approval is the
reference, made verifiable): a node signs its subtree's figures for a finished month into its
public stream; a parent signs only after each of its child nodes did, naming their sign-off
entries by hash, so its signed stream head covers theirs. A counter that changes after a
sign-off is flagged at every node that holds the sign-off."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from node.domain.errors import InvalidInput


@dataclass(frozen=True)
class SignedChild:
    division: str
    seq: int
    entry_hash: bytes


@dataclass(frozen=True)
class SignOff:
    period: str  # YYYY-MM
    division: str
    by: str
    counts: Mapping[str, int]
    children: tuple[SignedChild, ...] = field(default=())


def month_of(text: str) -> tuple[dt.date, dt.date]:
    """The first and last day of a month given as YYYY-MM."""
    parts = text.strip().split("-")
    try:
        if len(parts) != 2 or len(parts[0]) != 4:
            raise ValueError
        first = dt.date(int(parts[0]), int(parts[1]), 1)
    except ValueError:
        raise InvalidInput("--period", f"'{text[:20]}' is not a month YYYY-MM") from None
    after = (first + dt.timedelta(days=32)).replace(day=1)
    return first, after - dt.timedelta(days=1)


def differences(signed: Mapping[str, int], now: Mapping[str, int]) -> dict[str, tuple[int, int]]:
    """Counters whose value now differs from the signed one: name -> (signed, now)."""
    names: Sequence[str] = sorted(set(signed) | set(now))
    return {n: (signed.get(n, 0), now.get(n, 0)) for n in names if signed.get(n, 0) != now.get(n, 0)}
