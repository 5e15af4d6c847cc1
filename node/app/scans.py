"""The supervision scan of `yiwang run` (电子监察, issue 11): a thread that scans the node's
open cases, refusals, 差评 tasks and catalog every `supervision.interval_seconds` and writes
the alarms it finds as entries (node.services.supervision), and checks the node's certificate
(node.services.health: CertificateExpiring ahead of its end). A failed scan raises a node
alarm and the next one runs on time."""

from __future__ import annotations

import threading
from collections.abc import Callable

from node import logs
from node.context import Node
from node.domain.errors import Recovering

log = logs.get("supervision")


def start_scans(
    node: Node, every: float, stop: threading.Event, failed: Callable[[str, BaseException], None]
) -> threading.Thread:
    """Scan once soon after start, then every `every` seconds until `stop` is set."""

    def loop() -> None:
        wait = min(every, 2.0)  # a first scan right after start: a restarted node catches up
        while not stop.wait(wait):
            wait = every
            try:
                result = node.supervision.scan()
                if result.alarms:
                    log.info("supervision_scanned", cases=result.cases, alarms=len(result.alarms))
            except Recovering:  # its own entries are on their way back: the next scan, once they are
                log.info("supervision_scan_deferred")
            except Exception as exc:  # a scan must never stop the node; the alarm says why
                failed("supervision scan", exc)
            try:
                node.health.check_certificate()  # CertificateExpiring, once a day, 30 days ahead
            except Exception as exc:
                failed("certificate check", exc)
            try:
                node.software.announce()  # the version it runs, once after each upgrade
            except Recovering:
                pass  # its public stream is on its way back: the next scan announces
            except Exception as exc:
                failed("version announcement", exc)

    thread = threading.Thread(target=loop, name="supervision", daemon=True)
    thread.start()
    return thread
