"""A bell the parts of one process ring when they stored something another part may send on:
link pumps wait on it instead of sleeping a whole poll interval."""

from __future__ import annotations

import threading


class Bell:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._rings = 0

    def ring(self) -> None:
        with self._cond:
            self._rings += 1
            self._cond.notify_all()

    def mark(self) -> int:
        """The current count: pass it to `wait` to miss no ring that comes in between."""
        with self._cond:
            return self._rings

    def wait(self, since: int, timeout: float) -> bool:
        """Wait until the bell rang after `since` (True) or `timeout` seconds passed (False)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._rings != since, timeout)
