"""Settings of one node, read once at start-up from `<data dir>/yiwang.toml` into a frozen object.

[node]
code = "511602000000"      # 12-digit division code this node serves
name = "广安区"
profile = "county"         # "village" runs the lightweight profile (no NATS)
[database]
url = ""                   # empty: SQLite (WAL) at <data dir>/yiwang.db
[nats]
url = ""                   # empty: `yiwang run` starts its own nats-server
enabled = true             # false: no event bus at all (a node no department system listens to)
user = ""                  # with url: the account on that server or cluster
password = ""
replicas = 1               # the YIWANG stream's replicas (3 on a three-server cluster)
[federation]
listen = "127.0.0.1:7400"  # mutual-TLS port for links from children (and peer provinces)
enroll_listen = "127.0.0.1:7401"  # server-TLS port where enrolling children reach us
api_listen = "127.0.0.1:7402"     # the local NodeService (window software, departments)
parent = ""                # HOST:PORT of the parent's federation port; empty for a province
anchors = []               # fingerprints of peer provinces' roots (province nodes only)
peers = []                 # peer provinces this node dials, as "CODE@HOST:PORT"
[web]
listen = ""                # the pages, e.g. "127.0.0.1:7403"; empty: none; off loopback needs TLS
tls_cert = ""              # PEM files for HTTPS on the web port
tls_key = ""
[supervision]
interval_seconds = 300     # how often `yiwang run` scans for alarms (电子监察)
warn_days_left = 2         # 预警 when a case has at most this many working days left
red_days_late = 5          # 红牌 when more than this many working days late (黄牌 from the first)
acceptance_days = 5        # 行政许可法 art. 32: accept or refuse within 5 days
supplement_days = 20       # working days an applicant has to hand in a supplement
reason_min_chars = 6       # a refusal's or denial's reasons shorter than this are flagged
rectification_days = 15    # a 差评's callback and rectification (15 in Suining, 5 in Dezhou)

A port of 0 takes a free port; `yiwang run` writes the ports it bound to `<data dir>/run.json`.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from node.domain.divisions import DivisionCode, Tier
from node.domain.errors import InvalidInput, SetupError
from node.domain.supervision import Thresholds

CONFIG_NAME = "yiwang.toml"
KEY_NAME = "node.key"
DB_NAME = "yiwang.db"
LOG_DIR = "logs"
PROFILES = ("province", "city", "county", "township", "village")


def default_data_dir() -> Path:
    """`$YIWANG_HOME`, else ~/.yiwang."""
    env = os.environ.get("YIWANG_HOME")
    return Path(env) if env else Path.home() / ".yiwang"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    """Folder holding the config, the key, the SQLite database and the logs."""
    code: DivisionCode
    """The division this node serves; its tier is the code's tier."""
    name: str
    """Human name of the division (from the division data when known)."""
    profile: str
    """One of PROFILES; defaults to the tier's name. `village` runs without NATS."""
    database_url: str = ""
    """SQLAlchemy URL; empty means SQLite in the data directory."""
    nats_url: str = ""
    """An existing NATS server or cluster; empty means `yiwang run` starts one."""
    bus_enabled: bool = True
    """Whether `yiwang run` publishes to the event bus (the village profile never does)."""
    nats_user: str = ""
    """With nats.url: the account on that server or cluster (a comma-separated url lists its servers)."""
    nats_password: str = ""
    nats_replicas: int = 1
    """Replicas of the YIWANG stream: 3 on a three-server cluster keeps every entry through the
    loss of one server."""
    listen: str = "127.0.0.1:7400"
    """Federation port (mutual TLS) that children and peer provinces dial."""
    enroll_listen: str = "127.0.0.1:7401"
    """Enrollment port (server TLS only): children without a certificate enroll here."""
    api_listen: str = "127.0.0.1:7402"
    """The local NodeService for window software and department systems."""
    parent: str = ""
    """HOST:PORT of the parent's federation port; empty for a province or a standalone node."""
    anchors: tuple[str, ...] = ()
    """SHA-256 fingerprints of peer provinces' root certificates this node trusts (the
    certificates themselves are in <data dir>/anchors/)."""
    peers: tuple[str, ...] = ()
    """Peer provinces this province dials, as "CODE@HOST:PORT" (its federation port)."""
    offer_answer_days: int = 5
    """Working days a node has to answer a custody offer of this node; after them this node may
    withdraw it (`yiwang case withdraw-offer`)."""
    web_listen: str = ""
    """The web port (statistics page, consoles), e.g. 127.0.0.1:7403; empty: none (nodes on one
    host each need their own). Off loopback needs TLS."""
    web_tls_cert: str = ""
    web_tls_key: str = ""
    supervision: Thresholds = field(default_factory=Thresholds)
    """The 电子监察 thresholds (node.domain.supervision)."""
    supervision_interval: float = 300.0
    """Seconds between two supervision scans of `yiwang run`."""

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


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_settings(s: Settings) -> Path:
    path = s.data_dir / CONFIG_NAME
    path.write_text(
        "# yiwang node settings; see `node/config.py` for every field.\n"
        f"[node]\ncode = {_toml_str(s.code.code)}\nname = {_toml_str(s.name)}\nprofile = {_toml_str(s.profile)}\n\n"
        f"[database]\nurl = {_toml_str(s.database_url)}\n\n"
        f"[nats]\nurl = {_toml_str(s.nats_url)}\nenabled = {'true' if s.bus_enabled else 'false'}\n"
        f"user = {_toml_str(s.nats_user)}\npassword = {_toml_str(s.nats_password)}\nreplicas = {s.nats_replicas}\n\n"
        f"[federation]\nlisten = {_toml_str(s.listen)}\nenroll_listen = {_toml_str(s.enroll_listen)}\n"
        f"api_listen = {_toml_str(s.api_listen)}\nparent = {_toml_str(s.parent)}\n"
        f"anchors = [{', '.join(_toml_str(a) for a in s.anchors)}]\n"
        f"peers = [{', '.join(_toml_str(a) for a in s.peers)}]\n\n"
        f"[custody]\nanswer_days = {s.offer_answer_days}\n\n"
        f"[web]\nlisten = {_toml_str(s.web_listen)}\ntls_cert = {_toml_str(s.web_tls_cert)}\n"
        f"tls_key = {_toml_str(s.web_tls_key)}\n\n"
        f"[supervision]\ninterval_seconds = {s.supervision_interval:g}\n"
        + "".join(f"{name} = {getattr(s.supervision, name)}\n" for name in _THRESHOLDS),
        encoding="utf-8",
    )
    return path


def load_settings(data_dir: Path) -> Settings:
    path = data_dir / CONFIG_NAME
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SetupError(f"{data_dir} is not a yiwang data directory: run `yiwang init --code CODE` first") from None
    except tomllib.TOMLDecodeError as exc:
        raise SetupError(f"{path} is not valid TOML: {exc}") from None
    node = raw.get("node", {})
    try:
        code = DivisionCode.parse(str(node.get("code", "")), "node.code")
    except InvalidInput as exc:
        raise SetupError(f"{path}: {exc}") from None
    profile = str(node.get("profile") or code.tier.label)
    if profile not in PROFILES:
        raise SetupError(f"{path}: node.profile {profile!r} is not one of {', '.join(PROFILES)}")
    fed = raw.get("federation", {})
    bus = raw.get("nats", {})
    bus_enabled = bus.get("enabled", True)
    if not isinstance(bus_enabled, bool):
        raise SetupError(f"{path}: nats.enabled must be true or false, not {str(bus_enabled)[:40]!r}")
    replicas = bus.get("replicas", 1)
    if not isinstance(replicas, int) or isinstance(replicas, bool) or not 1 <= replicas <= 5:
        raise SetupError(f"{path}: nats.replicas must be a whole number 1..5")
    answer_days = raw.get("custody", {}).get("answer_days", Settings.offer_answer_days)
    if not isinstance(answer_days, int) or isinstance(answer_days, bool) or not 1 <= answer_days <= 60:
        raise SetupError(f"{path}: custody.answer_days must be a whole number of working days 1..60")
    supervision, interval = _supervision(path, raw.get("supervision", {}))
    return Settings(
        data_dir=data_dir,
        code=code,
        name=str(node.get("name", "")),
        profile=profile,
        database_url=str(raw.get("database", {}).get("url", "")),
        nats_url=str(raw.get("nats", {}).get("url", "")),
        bus_enabled=bus_enabled,
        nats_user=str(bus.get("user", "")),
        nats_password=str(bus.get("password", "")),
        nats_replicas=replicas,
        listen=str(fed.get("listen", Settings.listen)),
        enroll_listen=str(fed.get("enroll_listen", Settings.enroll_listen)),
        api_listen=str(fed.get("api_listen", Settings.api_listen)),
        parent=str(fed.get("parent", "")),
        anchors=tuple(str(a) for a in fed.get("anchors", [])),
        peers=tuple(str(a) for a in fed.get("peers", [])),
        offer_answer_days=answer_days,
        supervision=supervision,
        supervision_interval=interval,
        web_listen=str(raw.get("web", {}).get("listen", Settings.web_listen)),
        web_tls_cert=str(raw.get("web", {}).get("tls_cert", "")),
        web_tls_key=str(raw.get("web", {}).get("tls_key", "")),
    )


_THRESHOLDS = tuple(Thresholds.__dataclass_fields__)


def _supervision(path: Path, raw: dict[str, object]) -> tuple[Thresholds, float]:
    """The [supervision] section: whole numbers of days 0..366, an interval of 1..86400 s."""
    unknown = set(raw) - {*_THRESHOLDS, "interval_seconds"}
    if unknown:
        raise SetupError(f"{path}: supervision.{sorted(unknown)[0]} is not a setting; known: {', '.join(_THRESHOLDS)}")
    values: dict[str, int] = {}
    for name in _THRESHOLDS:
        value = raw.get(name, getattr(Thresholds(), name))
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 366:
            raise SetupError(f"{path}: supervision.{name} must be a whole number 0..366")
        values[name] = value
    interval = raw.get("interval_seconds", Settings.supervision_interval)
    if not isinstance(interval, int | float) or isinstance(interval, bool) or not 1 <= interval <= 86400:
        raise SetupError(f"{path}: supervision.interval_seconds must be a number of seconds 1..86400")
    return Thresholds(**values), float(interval)
