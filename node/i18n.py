"""What operators read, in their language: Simplified Chinese first, English selectable.

Messages are written in English in the code and the templates (`_("...")`) and translated by
the message catalogs under `node/locale/<locale>/LC_MESSAGES/yiwang.po`, which Babel reads and
compiles in memory the first time a locale is used (no compiled files to keep in step).
`scripts/i18n.py` extracts the messages and checks that the Chinese catalog translates every
one. Dates and numbers are formatted as the locale writes them (Babel's CLDR data).
"""

from __future__ import annotations

import datetime as dt
import functools
import gettext
import io
from importlib.resources import files

from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

from node.domain.timelimits import CHINA_TZ

LOCALES = {"zh_CN": "简体中文", "en": "English"}
DEFAULT = "zh_CN"
DOMAIN = "yiwang"


def choose(value: str | None) -> str:
    """The locale for a setting, header or form value such as `zh-CN`, `zh`, `en-US`; the
    default (zh_CN) for anything else."""
    tag = (value or "").strip().replace("-", "_").lower()
    if tag.startswith("en"):
        return "en"
    return DEFAULT


def catalog_path(locale: str) -> str:
    return str(files("node") / "locale" / locale / "LC_MESSAGES" / f"{DOMAIN}.po")


@functools.cache
def translations(locale: str) -> gettext.NullTranslations:
    """The translations of `locale` (English, the source language, has none)."""
    if locale not in LOCALES or locale == "en":
        return gettext.NullTranslations()
    with open(catalog_path(locale), "rb") as f:
        catalog = read_po(f, locale=locale, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def day(value: dt.date | str | None, locale: str) -> str:
    """A date as the locale writes it (2026年12月1日); "" for none."""
    if not value:
        return ""
    d = dt.date.fromisoformat(value) if isinstance(value, str) else value
    return format_date(d, "long", locale=locale)


def moment(value: dt.datetime | None, locale: str) -> str:
    """A time in China's time zone as the locale writes it (2026/12/1 09:05)."""
    if value is None:
        return ""
    return format_datetime(value.astimezone(CHINA_TZ), "short", tzinfo=CHINA_TZ, locale=locale)


def number(value: float | int | None, locale: str) -> str:
    return "" if value is None else format_decimal(value, locale=locale)
