"""`yiwang config show | check`: the node's settings, where each came from, and whether the node
can start with them (DESIGN.md section 15)."""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path

import typer

from node.cli.common import DataDir, JsonOut, _, console, data_dir, print_json, table
from node.config import CONFIG_NAME, Settings, load_settings, read_sources
from node.domain.errors import SetupError, YiwangError

app = typer.Typer(help="The node's settings (yiwang.toml and YIWANG_* variables).", no_args_is_help=True)


@app.command("show")
def show(data_dir_: DataDir = None, json_out: JsonOut = False) -> None:
    """Every setting with its value and where it came from (file, environment or default);
    secrets are masked."""
    sources = read_sources(data_dir(data_dir_))
    rows = [
        {
            "setting": s.option.name,
            "value": _shown(s.option.name, s.value, s.option.secret),
            "source": s.source,
            "env": s.option.env_name if s.option.env else "",
            "doc": s.option.doc,
        }
        for s in sources
    ]
    if json_out:
        print_json(rows)
        return
    origin = {"file": CONFIG_NAME, "default": _("default")}
    shown = [(r["setting"], _text(r["value"]), origin.get(str(r["source"]), r["env"])) for r in rows]
    table(str(data_dir(data_dir_) / CONFIG_NAME), [_("setting"), _("value"), _("source")], shown, nowrap=(0,))


def _shown(name: str, value: object, secret: bool) -> object:
    """A value as `config show` prints it: a secret masked, a database URL without its password."""
    if secret and value:
        return "******"
    if name == "database.url" and value:
        from node.store import shown_url

        return shown_url(str(value))
    return value


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


@dataclass(frozen=True)
class Check:
    what: str
    ok: bool
    detail: str


def _checks(settings: Settings) -> list[Check]:
    out = []
    home = settings.data_dir
    mode = stat.S_IMODE(home.stat().st_mode)
    out.append(Check("data directory", mode & 0o077 == 0, f"{home} mode {mode:o} (0700 expected)"))
    key = settings.key_path
    if key.exists():
        key_mode = stat.S_IMODE(key.stat().st_mode)
        out.append(Check("node key", key_mode & 0o077 == 0, f"{key} mode {key_mode:o} (0600 expected)"))
    else:
        out.append(Check("node key", False, f"{key} is missing: restore it from a backup or re-enroll"))
    out.append(_database(settings))
    ports = {
        "federation.listen": settings.listen,
        "federation.enroll_listen": settings.enroll_listen,
        "federation.api_listen": settings.api_listen,
        "web.listen": settings.web_listen,
    }
    taken: dict[str, str] = {}
    for name, address in ports.items():
        if address and not address.endswith(":0"):
            other = taken.setdefault(address, name)
            if other != name:
                out.append(Check("ports", False, f"{name} and {other} are both {address}"))
    if settings.web_listen:
        from node.web.server import is_loopback

        host = settings.web_listen.rpartition(":")[0].strip("[]")
        needs_tls = not is_loopback(host)
        tls = [Path(p) for p in (settings.web_tls_cert, settings.web_tls_key) if p]
        missing = [str(p) for p in tls if not p.is_file()]
        if needs_tls and len(tls) < 2:
            why = f"web.listen {settings.web_listen} is off loopback: set web.tls_cert and web.tls_key"
            out.append(Check("web TLS", False, why))
        elif missing:
            out.append(Check("web TLS", False, f"{missing[0]} is not a readable file"))
    return out


def _database(settings: Settings) -> Check:
    from node.store import open_engine, schema

    try:
        engine = open_engine(settings.effective_database_url)
        try:
            schema.check(engine, str(settings.data_dir))
        finally:
            engine.dispose()
    except YiwangError as exc:
        return Check("database", False, str(exc))
    return Check("database", True, f"at schema revision {schema.head()}")


@app.command("check")
def check(data_dir_: DataDir = None, json_out: JsonOut = False) -> None:
    """Load the settings as `yiwang run` would and check what it needs (key, database schema,
    ports, TLS files); exit code 5 naming the first problem."""
    settings = load_settings(data_dir(data_dir_))
    checks = _checks(settings)
    if json_out:
        print_json({"ok": all(c.ok for c in checks), "checks": checks})
    else:
        for c in checks:
            console.print(f"{'ok ' if c.ok else 'BAD'} {c.what}: {c.detail}", highlight=False)
    failed = [c for c in checks if not c.ok]
    if failed:
        raise SetupError(f"{failed[0].what}: {failed[0].detail}")
