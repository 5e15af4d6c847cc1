"""Settings of one node: `<data dir>/yiwang.toml`, overridden by `YIWANG_<SECTION>_<KEY>`
environment variables (containers, systemd drop-ins), read once at start-up into a frozen object.

OPTIONS below is the one list of settings: each names its section and key, its type and bounds,
its default and what it does. `yiwang init` writes the file from it with every setting and its
meaning; loading refuses an unknown setting or a bad value naming it (and the variable it came
from); `yiwang config show` prints each value and where it came from, `yiwang config check`
loads and checks what the node will need at start-up; docs/operator-guide.md lists them all (a
test keeps the three equal).

A port of 0 takes a free port; `yiwang run` writes the ports it bound to `<data dir>/run.json`.
"""

from __future__ import annotations

import contextlib
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from node.domain.divisions import DivisionCode, Tier
from node.domain.errors import InvalidInput, SetupError
from node.domain.supervision import Thresholds

CONFIG_NAME = "yiwang.toml"
KEY_NAME = "node.key"
DB_NAME = "yiwang.db"
LOG_DIR = "logs"
WEB_SECRET_NAME = "web.secret"  # the key that signs the consoles' session cookies
PROFILES = ("province", "city", "county", "township", "village")
ENV_PREFIX = "YIWANG_"


def default_data_dir() -> Path:
    """`$YIWANG_HOME`, else ~/.yiwang."""
    env = os.environ.get("YIWANG_HOME")
    return Path(env) if env else Path.home() / ".yiwang"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    code: DivisionCode
    name: str
    profile: str
    database_url: str = ""
    nats_url: str = ""
    bus_enabled: bool = True
    nats_user: str = ""
    nats_password: str = ""
    nats_replicas: int = 1
    listen: str = "127.0.0.1:7400"
    enroll_listen: str = "127.0.0.1:7401"
    api_listen: str = "127.0.0.1:7402"
    parent: str = ""
    anchors: tuple[str, ...] = ()
    peers: tuple[str, ...] = ()
    offer_answer_days: int = 5
    web_listen: str = ""
    web_tls_cert: str = ""
    web_tls_key: str = ""
    supervision: Thresholds = field(default_factory=Thresholds)
    supervision_interval: float = 300.0
    metrics_listen: str = ""
    cert_warn_days: int = 30

    @property
    def tier(self) -> Tier:
        return self.code.tier

    @property
    def key_path(self) -> Path:
        return self.data_dir / KEY_NAME

    @property
    def log_path(self) -> Path:
        return self.data_dir / LOG_DIR / "yiwang.log"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / DB_NAME}"


# -- value types: each turns a TOML value (or an environment variable's text) into a setting ---

Parse = Callable[[object, bool], object]  # (raw value, came from the environment) -> value


def _text(max_chars: int = 500) -> Parse:
    def parse(raw: object, env: bool) -> object:
        if not isinstance(raw, str):
            raise ValueError("must be text in quotes")
        if len(raw) > max_chars or not raw.isprintable():
            raise ValueError(f"at most {max_chars} printable characters")
        return raw

    return parse


def _address(optional: bool) -> Parse:
    def parse(raw: object, env: bool) -> object:
        text = _text(300)(raw, env)
        assert isinstance(text, str)
        if not text and optional:
            return text
        host, sep, port = text.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError("must be HOST:PORT with a port 0..65535 (0: a free port)")
        return text

    return parse


def _database_url(raw: object, env: bool) -> object:
    text = _text()(raw, env)
    assert isinstance(text, str)
    if text and not re.match(r"^(sqlite|postgresql)(\+\w+)?://", text):
        raise ValueError("must be a sqlite:/// or postgresql:// URL (empty: SQLite in the data directory)")
    return text


def _boolean(raw: object, env: bool) -> object:
    if env and isinstance(raw, str) and raw.lower() in ("true", "false", "1", "0", "yes", "no"):
        return raw.lower() in ("true", "1", "yes")
    if not isinstance(raw, bool):
        raise ValueError("must be true or false")
    return raw


def _whole(low: int, high: int, unit: str = "") -> Parse:
    def parse(raw: object, env: bool) -> object:
        value = raw
        if env and isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
            value = int(raw)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ValueError(f"must be a whole number {low}..{high}{unit}")
        return value

    return parse


def _seconds(low: float, high: float) -> Parse:
    def parse(raw: object, env: bool) -> object:
        value = raw
        if env and isinstance(raw, str):
            with contextlib.suppress(ValueError):
                value = float(raw)
        if not isinstance(value, int | float) or isinstance(value, bool) or not low <= value <= high:
            raise ValueError(f"must be a number of seconds {low:g}..{high:g}")
        return float(value)

    return parse


def _texts(raw: object, env: bool) -> object:
    items = [s.strip() for s in raw.split(",") if s.strip()] if env and isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(s, str) and s.isprintable() for s in items):
        raise ValueError('must be a list of texts, e.g. ["a", "b"] (in the environment: a,b)')
    return tuple(items)


def _profile(raw: object, env: bool) -> object:
    if raw not in (*PROFILES, ""):
        raise ValueError(f"must be one of {', '.join(PROFILES)}")
    return raw


@dataclass(frozen=True)
class Option:
    section: str
    key: str
    attr: str  # the Settings field ("supervision.<name>" for a threshold)
    parse: Parse
    doc: str
    env: bool = True  # may an environment variable set it (not the node's identity)
    secret: bool = False  # shown masked

    @property
    def name(self) -> str:
        return f"{self.section}.{self.key}"

    @property
    def env_name(self) -> str:
        return f"{ENV_PREFIX}{self.section}_{self.key}".upper()

    def default(self) -> object:
        if self.attr.startswith("supervision."):
            return getattr(Thresholds(), self.attr.split(".", 1)[1])
        found = next(f for f in fields(Settings) if f.name == self.attr)
        return "" if self.attr in ("code", "name", "profile") else found.default


_TH = {
    "warn_days_left": "预警 when a case has at most this many working days left",
    "red_days_late": "红牌 when more than this many working days late (黄牌 from the first)",
    "acceptance_days": "working days to accept or refuse a filing (行政许可法 art. 32: 5)",
    "supplement_days": "working days an applicant has to hand in a supplement",
    "reason_min_chars": "a refusal's or denial's reasons shorter than this are flagged",
    "rectification_days": "working days for a 差评's callback and rectification (Suining 15, Dezhou 5)",
}

OPTIONS: tuple[Option, ...] = (
    Option("node", "code", "code", _text(12), "12-digit division code this node serves (set by init)", env=False),
    Option("node", "name", "name", _text(100), "the division's name; empty: from the division tree"),
    Option(
        "node",
        "profile",
        "profile",
        _profile,
        "province, city, county, township or village (no bus); empty: the tier's",
    ),
    Option("database", "url", "database_url", _database_url, "SQLAlchemy URL; empty: SQLite (WAL) in the data dir"),
    Option("nats", "url", "nats_url", _text(), "an existing NATS server or cluster; empty: run starts its own"),
    Option("nats", "enabled", "bus_enabled", _boolean, "publish to the event bus at all"),
    Option("nats", "user", "nats_user", _text(200), "with nats.url: the account on that server"),
    Option("nats", "password", "nats_password", _text(200), "with nats.url: its password", secret=True),
    Option("nats", "replicas", "nats_replicas", _whole(1, 5), "replicas of the YIWANG stream (3 on 3 servers)"),
    Option("federation", "listen", "listen", _address(False), "mutual-TLS port for links from children and peers"),
    Option("federation", "enroll_listen", "enroll_listen", _address(False), "server-TLS port where children enroll"),
    Option("federation", "api_listen", "api_listen", _address(False), "the local NodeService (window software)"),
    Option("federation", "parent", "parent", _address(True), "HOST:PORT of the parent's federation port"),
    Option("federation", "anchors", "anchors", _texts, "SHA-256 fingerprints of peer provinces' roots"),
    Option("federation", "peers", "peers", _texts, 'peer provinces this province dials, as "CODE@HOST:PORT"'),
    Option("custody", "answer_days", "offer_answer_days", _whole(1, 60), "working days to answer a custody offer"),
    Option("web", "listen", "web_listen", _address(True), "the pages, e.g. 127.0.0.1:7403; off loopback needs TLS"),
    Option("web", "tls_cert", "web_tls_cert", _text(), "PEM certificate chain for HTTPS on the web port"),
    Option("web", "tls_key", "web_tls_key", _text(), "PEM private key for HTTPS on the web port"),
    Option("monitoring", "metrics_listen", "metrics_listen", _address(True), "Prometheus /metrics; empty: none"),
    Option("monitoring", "cert_warn_days", "cert_warn_days", _whole(1, 365), "days before expiry the alarm comes"),
    Option("supervision", "interval_seconds", "supervision_interval", _seconds(1, 86400), "seconds between scans"),
    *(Option("supervision", k, f"supervision.{k}", _whole(0, 366), doc) for k, doc in _TH.items()),
)
_BY_NAME = {o.name: o for o in OPTIONS}
SECTIONS = tuple(dict.fromkeys(o.section for o in OPTIONS))


def value_of(settings: Settings, option: Option) -> object:
    if option.attr.startswith("supervision."):
        return getattr(settings.supervision, option.attr.split(".", 1)[1])
    value = getattr(settings, option.attr)
    return value.code if isinstance(value, DivisionCode) else value


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_settings(s: Settings) -> Path:
    """The node's yiwang.toml, every setting with what it does (and its environment variable)."""
    lines = ["# yiwang node settings; `yiwang config show` prints them with where each came from."]
    for section in SECTIONS:
        lines += ["", f"[{section}]"]
        for o in (o for o in OPTIONS if o.section == section):
            env = f" (env {o.env_name})" if o.env else ""
            lines += [f"# {o.doc}{env}", f"{o.key} = {_toml(value_of(s, o))}"]
    path = s.data_dir / CONFIG_NAME
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class Source:
    option: Option
    value: object
    source: str  # "file", "env" or "default"


def read_sources(data_dir: Path, environ: Mapping[str, str] | None = None) -> list[Source]:
    """Every setting's value and where it came from; SetupError naming a bad or unknown one."""
    path = data_dir / CONFIG_NAME
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SetupError(f"{data_dir} is not a yiwang data directory: run `yiwang init --code CODE` first") from None
    except tomllib.TOMLDecodeError as exc:
        raise SetupError(f"{path} is not valid TOML: {exc}") from None
    for section, table in raw.items():
        if section not in SECTIONS or not isinstance(table, dict):
            raise SetupError(f"{path}: [{section}] is not a section of the settings; known: {', '.join(SECTIONS)}")
        for key in table:
            if f"{section}.{key}" not in _BY_NAME:
                known = ", ".join(o.key for o in OPTIONS if o.section == section)
                raise SetupError(f"{path}: {section}.{key} is not a setting; [{section}] has {known}")
    env = os.environ if environ is None else environ
    prefixes = tuple(f"{ENV_PREFIX}{section}_".upper() for section in SECTIONS)
    for o in OPTIONS:
        if not o.env and o.env_name in env:
            raise SetupError(f"{o.name} is read from {CONFIG_NAME} only: unset {o.env_name}")
    unknown_env = sorted(k for k in env if k.startswith(prefixes) and k not in _ENV_NAMES)
    if unknown_env:  # a setting's variable mistyped would otherwise be ignored without a word
        raise SetupError(f"{unknown_env[0]} is not a setting's environment variable; `yiwang config show` lists them")
    out = []
    for o in OPTIONS:
        if o.env and o.env_name in env:
            given, source, where = env[o.env_name], "env", f"{o.env_name} ({o.name})"
        elif o.key in raw.get(o.section, {}):
            given, source, where = raw[o.section][o.key], "file", f"{path}: {o.name}"
        else:
            out.append(Source(o, o.default(), "default"))
            continue
        try:
            out.append(Source(o, o.parse(given, source == "env"), source))
        except ValueError as exc:
            raise SetupError(f"{where} {exc}") from None
    return out


_ENV_NAMES = frozenset(o.env_name for o in OPTIONS if o.env)


def load_settings(data_dir: Path, environ: Mapping[str, str] | None = None) -> Settings:
    values: dict[str, Any] = {}
    thresholds: dict[str, Any] = {}
    for s in read_sources(data_dir, environ):
        if s.option.attr.startswith("supervision."):
            thresholds[s.option.attr.split(".", 1)[1]] = s.value
        else:
            values[s.option.attr] = s.value
    try:
        code = DivisionCode.parse(str(values.pop("code")), "node.code")
    except InvalidInput as exc:
        raise SetupError(f"{data_dir / CONFIG_NAME}: {exc}") from None
    values["profile"] = values["profile"] or code.tier.label
    return Settings(data_dir=data_dir, code=code, supervision=Thresholds(**thresholds), **values)
