"""The process `yiwang run` becomes: it serves the node until SIGTERM or Ctrl-C.

`yiwang run` parses its options, then replaces itself with this (same PID, so a supervisor or
systemd keeps following it), so the serving process holds none of the command line's
libraries (typer, and the pydantic typer coerces options with, rich's help): a village node
runs on one small machine (issue 13, bench/footprint.py). Run: `python -m node.cli.serve
DATA_DIR PING_EVERY`; errors as the CLI says them, with its exit codes."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

from node.domain.errors import YiwangError


def serve(data_dir: Path, ping_every: float) -> None:
    """Open the node, start its ports, links and workers, and serve until told to stop."""
    from node.app.runtime import Runtime
    from node.context import Node
    from node.startup import settle_after_startup

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    node = Node.open(data_dir)
    try:
        runtime = Runtime(node, ping_every)
        try:
            addresses = runtime.start()
            settle_after_startup()
            ports = ", ".join(f"{k} {v}" for k, v in addresses.items())
            print(f"node {node.code} running (pid {os.getpid()}): {ports}", flush=True)
            stop.wait()
        finally:
            runtime.stop()
    finally:
        node.close()


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit("usage: python -m node.cli.serve DATA_DIR PING_EVERY (or `yiwang run`)")
    # structlog pretty-prints exceptions on a console with rich when it can import it; a node
    # writes its log as JSON lines and never to a console, so it does not load rich (5 MB of
    # a village node's memory). Only the error path below, the CLI's, uses it.
    sys.modules.setdefault("rich", None)  # type: ignore[arg-type]
    try:
        serve(Path(sys.argv[1]), float(sys.argv[2]))
    except YiwangError as exc:
        if sys.modules.get("rich", ...) is None:
            del sys.modules["rich"]
        from node.cli.common import fail

        fail(exc)


if __name__ == "__main__":
    main()
