"""Log in to a node's web console and print what a page shows, as text (the demo's look at the
consoles; a browser shows the same pages). Usage:
    python scripts/console_peek.py NODE_DIR ACCOUNT PASSWORD PATH [PATH ...]
NODE_DIR is a running node's data directory (its run.json names the web port)."""

from __future__ import annotations

import http.cookiejar
import json
import re
import sys
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlencode

LINES = 30  # of each page


class _Text(HTMLParser):
    """The visible text of <main>, one line per block, without forms' hidden values."""

    SKIP: ClassVar[frozenset[str]] = frozenset({"style", "script", "option", "datalist"})
    BLOCK: ClassVar[frozenset[str]] = frozenset({"p", "h1", "h2", "tr", "li", "dt", "summary", "div", "table", "br"})

    def __init__(self) -> None:
        super().__init__()
        self.inside = 0
        self.skipping = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "main":
            self.inside += 1
        if tag in self.SKIP:
            self.skipping += 1
        if tag in self.BLOCK:
            self.parts.append("\n")
        if tag in ("td", "th", "dd"):
            self.parts.append(" | ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "main":
            self.inside -= 1
        if tag in self.SKIP:
            self.skipping -= 1

    def handle_data(self, data: str) -> None:
        if self.inside and not self.skipping:
            self.parts.append(data.replace("\n", " "))


def text_of(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    lines = (re.sub(r"\s+", " ", line).strip(" |") for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def main(node_dir: str, account: str, password: str, *paths: str) -> None:
    base = "http://" + json.loads((Path(node_dir) / "run.json").read_text())["web"]
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    login = opener.open(f"{base}/login", timeout=10).read().decode()
    token = login.split('name="csrf" value="')[1].split('"')[0]
    form = urlencode({"csrf": token, "name": account, "password": password}).encode()
    opener.open(urllib.request.Request(f"{base}/login", data=form, method="POST"), timeout=10).read()
    for path in paths:
        print(f"--- {base}{path} ({account})")
        lines = text_of(opener.open(base + path, timeout=10).read().decode()).splitlines()
        print("\n".join(lines[:LINES] + (["..."] if len(lines) > LINES else [])))


if __name__ == "__main__":
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    main(*sys.argv[1:])
