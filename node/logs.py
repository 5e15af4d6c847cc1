"""Structured logging: JSON lines with event names and key=value fields.

Log lines carry case numbers, item codes, origins and sequence numbers; never an applicant's
name, identity number, phone, address or materials (tests search the log files for them).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import structlog

_configured: Path | None = None


def configure(log_path: Path | None, level: str = "info") -> None:
    """Send structured logs to `log_path` (JSON lines), or drop them when None."""
    global _configured
    if log_path is not None and _configured == log_path:
        return
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.JSONRenderer(ensure_ascii=False),
    ]
    if log_path is None:
        factory: Any = structlog.ReturnLoggerFactory()
    else:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        factory = structlog.WriteLoggerFactory(file=log_path.open("a", encoding="utf-8"))
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=factory,
        cache_logger_on_first_use=False,
    )
    _configured = log_path


def get(name: str) -> Any:
    return structlog.get_logger(name)
