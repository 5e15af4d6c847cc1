"""The files by which a `yiwang run` says it is running: run.json (its pid and ports, read by
`yiwang status` and the other commands) and the run lock (one `yiwang run` per data directory)."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

from node.domain.errors import SetupError

RUN_FILE = "run.json"
LOCK_FILE = "run.lock"


def hold_run_lock(data_dir: Path) -> int:
    """Take the data directory's run lock (held until the process ends) and return its file
    descriptor; SetupError when another `yiwang run` holds it."""
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        other = read_run_file(data_dir)
        pid = f" (pid {other['pid']})" if other and "pid" in other else ""
        raise SetupError(
            f"another `yiwang run`{pid} serves {data_dir}: stop it first; this one leaves its files alone"
        ) from None
    return fd


def read_run_file(data_dir: Path) -> dict[str, Any] | None:
    """The running node's ports and pid, or None when no `yiwang run` is (or was) running."""
    try:
        data: dict[str, Any] = json.loads((data_dir / RUN_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return data
