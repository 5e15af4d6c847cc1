"""The message catalogs (node/i18n.py): `update` extracts every `_("...")` of the pages and
the CLI with Babel and merges new messages into the Chinese catalog (untranslated, for a
translator); `check` fails, naming them, when a message has no Chinese translation or is fuzzy.
Run from the repository root: `python scripts/i18n.py update|check` (`make i18n`, .ci/run)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
LOCALE_DIR = ROOT / "node" / "locale"
DOMAIN = "yiwang"
TRANSLATED = ("zh_CN",)


HEADER = (
    "# Chinese (Simplified) messages of yiwang: the pages and the CLI (node/i18n.py).\n"
    "# `python scripts/i18n.py update` adds new messages; `check` (in .ci/run) fails on any untranslated.\n"
)


def _pybabel(*args: str) -> None:
    CommandLineInterface().run(["pybabel", "-q", *args])  # type: ignore[no-untyped-call]


def _extract(pot: Path) -> None:
    keywords = ["-k", "_", "-k", "N_"]
    _pybabel(
        "extract", "-F", str(ROOT / "babel.cfg"), *keywords, "--no-location", "--sort-output", "-o", str(pot), str(ROOT)
    )


def _with_header(po: Path) -> None:
    """The catalog's own comment on top, in place of the one Babel writes."""
    lines = po.read_text(encoding="utf-8").splitlines(keepends=True)
    body = "".join(lines[next(i for i, line in enumerate(lines) if not line.startswith("#")) :])
    po.write_text(HEADER + body, encoding="utf-8")


def update() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        pot = Path(tmp) / f"{DOMAIN}.pot"
        _extract(pot)
        for locale in TRANSLATED:
            po = LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
            how = ["-i", str(pot), "-o", str(po), "-l", locale, "-w", "100"]
            if po.exists():
                _pybabel("update", *how, "--no-fuzzy-matching", "--ignore-obsolete")
            else:
                _pybabel("init", *how)
            _with_header(po)


def check() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        pot = Path(tmp) / f"{DOMAIN}.pot"
        _extract(pot)
        with pot.open("rb") as f:
            wanted = [m.id for m in read_po(f) if m.id]
    bad = 0
    for locale in TRANSLATED:
        with (LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as f:
            catalog = read_po(f, locale=locale)
        for msgid in wanted:
            message = catalog.get(msgid)
            if message is None or not message.string or message.fuzzy:
                what = "missing" if message is None else "fuzzy" if message.fuzzy else "untranslated"
                print(f"{locale}: {what}: {msgid!r}", file=sys.stderr)
                bad += 1
    if bad:
        hint = "run `python scripts/i18n.py update` and translate them in node/locale/zh_CN/LC_MESSAGES/yiwang.po"
        print(f"{bad} message(s) without a translation: {hint}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "update":
        update()
    elif command == "check":
        sys.exit(check())
    else:
        sys.exit("usage: python scripts/i18n.py update|check")
