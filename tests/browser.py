"""Pages in a real browser (Debian's chromium, driven by Playwright) for the tests: a page is
opened from a server on 127.0.0.1, and what a reader would notice is collected: console errors,
page errors, every request that left 127.0.0.1 (refused), a screenshot and whether the CJK font
rendered. Without chromium the test is skipped, except under CI=true (.ci/run installs it)."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("YIWANG_CHROMIUM", "/usr/bin/chromium")


def chromium() -> str:
    path = shutil.which(CHROMIUM) or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"no chromium at {CHROMIUM} under CI=true: .ci/run installs Debian's chromium")
        pytest.skip(f"no chromium at {CHROMIUM}: apt-get install chromium fonts-wqy-microhei")
    return path


@dataclass
class Visit:
    errors: list[str] = field(default_factory=list)  # console errors and uncaught page errors
    outside: list[str] = field(default_factory=list)  # requests that would have left 127.0.0.1
    screenshot: bytes = b""
    facts: dict[str, Any] = field(default_factory=dict)  # what the page's script checks returned


@contextmanager
def served(folder: Path) -> Iterator[str]:
    """A static server of `folder` on 127.0.0.1 (a free port); yields its base URL."""
    handler = functools.partial(_Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def browser_page(width: int = 1280, height: int = 900) -> Iterator[tuple[Any, Visit]]:
    """A chromium page whose console errors, page errors and requests off 127.0.0.1 (refused)
    are collected in the Visit it comes with."""
    from playwright.sync_api import Route, sync_playwright

    seen = Visit()

    def route(r: Route) -> None:
        if r.request.url.startswith(("http://127.0.0.1", "data:", "about:")):
            r.continue_()
        else:
            seen.outside.append(r.request.url)
            r.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.on("console", lambda m: seen.errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: seen.errors.append(str(e)))
            page.route("**/*", route)
            yield page, seen
        finally:
            browser.close()


def look(page: Any, seen: Visit, checks: dict[str, str]) -> None:
    """Wait for the fonts, run each JavaScript expression of `checks` (name -> expression) into
    `seen.facts` and take a full-page screenshot."""
    page.evaluate("document.fonts.ready.then(() => true)")
    seen.facts = {name: page.evaluate(expr) for name, expr in checks.items()}
    seen.screenshot = page.screenshot(full_page=True)


def visit(url: str, checks: dict[str, str], width: int = 1280, height: int = 900) -> Visit:
    """Open `url`, wait for the page to settle, run the checks and take a screenshot."""
    with browser_page(width, height) as (page, seen):
        page.goto(url, wait_until="networkidle")
        look(page, seen, checks)
    return seen


ARTEFACTS = Path(__file__).resolve().parent.parent / "test-artefacts"


def keep(name: str, png: bytes) -> Path:
    """Save a screenshot under test-artefacts/ (for a reader of the CI run) and return its path."""
    ARTEFACTS.mkdir(exist_ok=True)
    path = ARTEFACTS / f"{name}.png"
    path.write_bytes(png)
    return path


def distinct_colours(png: bytes) -> int:
    """How many colours a screenshot has (a blank page: 1)."""
    import io

    from PIL import Image

    colours = Image.open(io.BytesIO(png)).convert("RGB").getcolors(maxcolors=1 << 24)
    return len(colours or [])
