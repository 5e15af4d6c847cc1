"""The sim's shared clock: every node of a `yiwang sim` reads the time as the machine's clock
plus one offset, so a test or a trainer can move a whole running federation days ahead (a
reviewer silent past its limit, a case past its due date) without touching the machine's clock.

`yiwang sim` writes `clock.json` in its folder and a `sim-clock` mark in each node's data
directory naming that file; `Node.open` uses this clock when the mark is there, for `yiwang
run` and for every CLI command alike. A node that was not made by the sim has no mark and runs
on the system clock. TLS still checks certificates against the machine's clock, so the sim only
moves forward, by days, after its nodes are enrolled.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import time
from pathlib import Path

from node.domain.errors import InvalidInput, SetupError

MARK = "sim-clock"  # in a node's data directory: the path of the sim's clock file
CLOCK_FILE = "clock.json"  # in the sim's folder: {"offset_seconds": ...}
_REREAD = 0.2  # seconds between reads of the clock file by a running node
MAX_OFFSET_DAYS = 300  # in all: node certificates last 365 days, and links check them by this clock


class OffsetClock:
    """The system clock plus the offset the sim's clock file holds (re-read every 0.2 s)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = read_offset(path)
        self._read_at = time.monotonic()

    def __call__(self) -> dt.datetime:
        if time.monotonic() - self._read_at > _REREAD:
            self._read_at = time.monotonic()
            with contextlib.suppress(SetupError):  # a bad file keeps the last good offset: a clock call must not fail
                self._offset = read_offset(self.path)
        return dt.datetime.now(dt.UTC) + self._offset


def read_offset(path: Path) -> dt.timedelta:
    try:
        seconds = float(json.loads(path.read_text(encoding="utf-8"))["offset_seconds"])
        if not 0 <= seconds <= MAX_OFFSET_DAYS * 86400:
            raise ValueError(seconds)
    except FileNotFoundError as e:
        raise SetupError(f"the sim's clock file {path} is gone; restart the sim with `yiwang sim`") from e
    except (ValueError, KeyError, TypeError) as e:
        raise SetupError(
            f'the sim\'s clock file {path} is not {{"offset_seconds": N}}, N from 0 to {MAX_OFFSET_DAYS} days;'
            " rewrite or delete it"
        ) from e
    return dt.timedelta(seconds=seconds)


def clock_of(data_dir: Path) -> OffsetClock | None:
    """The sim's clock for a node the sim made, else None (the node runs on the system clock)."""
    mark = data_dir / MARK
    if not mark.is_file():
        return None
    return OffsetClock(Path(mark.read_text(encoding="utf-8").strip()))


def _write(path: Path, offset: dt.timedelta) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"offset_seconds": offset.total_seconds()}), encoding="utf-8")
    os.replace(tmp, path)  # a running node never reads half a file


def start(folder: Path) -> Path:
    """A new sim's clock: no offset."""
    path = folder.resolve() / CLOCK_FILE
    _write(path, dt.timedelta())
    return path


def mark(home: Path, clock: Path) -> None:
    """Make the node at `home` run on the sim's clock."""
    (home / MARK).write_text(str(clock), encoding="utf-8")


def advance(folder: Path, days: float) -> dt.timedelta:
    """Move the sim's clock `days` ahead; returns the new offset. It never goes back: entries
    already written keep their times, and a chain whose times went backwards would read wrong."""
    path = folder.resolve() / CLOCK_FILE
    if not path.is_file():
        raise SetupError(f"{folder} holds no sim clock; start the sim with `yiwang sim --dir {folder}` first")
    offset = read_offset(path) + dt.timedelta(days=days)
    if days <= 0 or offset > dt.timedelta(days=MAX_OFFSET_DAYS):
        raise InvalidInput("--days", f"advance by more than 0 days, to at most {MAX_OFFSET_DAYS} days ahead in all")
    _write(path, offset)
    return offset
