"""`yiwang backup` and `yiwang restore` (DESIGN.md section 15): one file holding everything a
node needs to come back, made while it runs.

The file is a gzip-compressed tar: `manifest.json` (format, the node's code and name, the
yiwang version and schema revision, when, and the SHA-256 and size of every other member),
`database.sqlite` (the database as of one moment: node.store.snapshot) and `files/` (the
settings, the key, the certificate chain, peer anchors, the web session secret, the bus
accounts). It holds the node's key: keep it as the key is kept. A restore reads the manifest,
checks every member against it before writing anything, and fills an empty data directory.
The manifest's sums catch a damaged or truncated file, not a forged one: a backup is trusted
as the place it is kept is.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from federation.wire.identity import ANCHORS_DIR, CHAIN_NAME
from federation.wire.keys import RETIRED_DIR
from node.config import CONFIG_NAME, DB_NAME, KEY_NAME, WEB_SECRET_NAME, Settings, load_settings, write_settings
from node.domain.cursors import UNCHECKED
from node.domain.errors import InvalidInput, SetupError
from node.services.health import version
from node.store import Store, open_engine, schema, shown_url, snapshot

FORMAT = 1
MANIFEST = "manifest.json"
DATABASE = "database.sqlite"
# What a node's data directory holds besides its database and logs (paths relative to it).
FILES = (CONFIG_NAME, KEY_NAME, CHAIN_NAME, WEB_SECRET_NAME)
DIRS = (ANCHORS_DIR, RETIRED_DIR, "nats")  # retired keys open what was sealed before a rotation
SKIP = ("nats/jetstream",)  # the bus's own store: the relay publishes again from its cursors
MAX_MEMBER = 64 * 1024 * 1024 * 1024  # 64 GiB, a province's database


@dataclass(frozen=True)
class BackupResult:
    file: str
    code: str
    revision: str
    rows: int
    bytes: int


@dataclass(frozen=True)
class RestoreResult:
    data_dir: str
    code: str
    made_at: str
    revision: str
    database: str
    rows: int


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _node_files(data_dir: Path) -> list[Path]:
    found = [data_dir / name for name in FILES if (data_dir / name).is_file()]
    for folder in DIRS:
        for path in sorted((data_dir / folder).rglob("*")):
            relative = path.relative_to(data_dir).as_posix()
            if path.is_file() and not relative.startswith(SKIP) and path.suffix != ".log":  # logs keep growing
                found.append(path)
    return found


def make_backup(settings: Settings, out: Path) -> BackupResult:
    """Back up the node of `settings` (running or not) into the new file `out`."""
    if out.exists():
        raise InvalidInput("--out", f"{out} exists: name a new file (a backup never overwrites one)")
    if not out.parent.is_dir():
        raise InvalidInput("--out", f"{out.parent} is not a directory")
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".yiwang-backup-") as work:
        db = Path(work) / DATABASE
        counts = snapshot.snapshot(settings.effective_database_url, db)
        revision = snapshot.revision(db) or "none"  # the database's, which may be behind this code's
        members: dict[str, Path] = {DATABASE: db}
        for path in _node_files(settings.data_dir):  # copied first: what is hashed is what is stored
            name = "files/" + path.relative_to(settings.data_dir).as_posix()
            members[name] = Path(work) / name
            members[name].parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            shutil.copy2(path, members[name])
        manifest = {
            "format": FORMAT,
            "code": settings.code.code,
            "name": settings.name,
            "yiwang": version(),
            "revision": revision,
            "made_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "backend": "postgresql" if settings.database_url.startswith("postgresql") else "sqlite",
            "rows": counts,
            "members": {name: {"sha256": _sha256(p), "size": p.stat().st_size} for name, p in members.items()},
        }
        partial = Path(work) / "backup.tar.gz"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            data = json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8")
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode = len(data), 0o600
            tar.addfile(info, io.BytesIO(data))
            for name, path in members.items():
                tar.add(path, arcname=name, recursive=False)
        partial.replace(out)  # whole or not at all
    return BackupResult(str(out), settings.code.code, revision, sum(counts.values()), out.stat().st_size)


def read_manifest(tar: tarfile.TarFile, source: Path) -> dict[str, Any]:
    try:
        member = tar.getmember(MANIFEST)
        raw = tar.extractfile(member)
        manifest: dict[str, Any] = json.loads(raw.read(1 << 20) if raw else b"")
    except (KeyError, json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidInput("FILE", f"{source} is not a yiwang backup (no readable {MANIFEST})") from None
    if manifest.get("format") != FORMAT or not isinstance(manifest.get("members"), dict):
        raise InvalidInput("FILE", f"{source}: backup format {manifest.get('format')!r}, this yiwang reads {FORMAT}")
    return manifest


def _safe_name(name: str) -> bool:
    parts = Path(name).parts
    return (
        bool(parts)
        and not Path(name).is_absolute()
        and ".." not in parts
        and (name == DATABASE or (parts[0] == "files" and len(parts) > 1))
    )


def _extract_checked(tar: tarfile.TarFile, manifest: dict[str, Any], into: Path, source: Path) -> None:
    """Every member the manifest lists, checked against its size and SHA-256, into `into`."""
    listed: dict[str, dict[str, Any]] = manifest["members"]
    names = set(tar.getnames()) - {MANIFEST}
    if names != set(listed):
        raise InvalidInput("FILE", f"{source}: its members are not the ones its manifest lists (damaged or altered)")
    for name, expected in listed.items():
        member = tar.getmember(name)
        if not _safe_name(name) or not member.isfile() or member.size > MAX_MEMBER:
            raise InvalidInput("FILE", f"{source}: member {name!r} is not one a backup holds")
        target = into / name
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        stream = tar.extractfile(member)
        assert stream is not None
        digest = hashlib.sha256()
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            while block := stream.read(1 << 20):
                digest.update(block)
                out.write(block)
        if digest.hexdigest() != expected.get("sha256") or member.size != expected.get("size"):
            raise InvalidInput("FILE", f"{source}: {name} does not match its manifest (damaged or altered)")


def _unchecked(url: str) -> None:
    """Mark the restored node as not yet checked with its parent: its parent may hold entries
    of its streams it wrote after the backup, so it writes nothing until its link has asked
    (and got back whatever the parent held further)."""
    engine = open_engine(url)
    try:
        with Store(engine).transaction() as tx:
            tx.set_behind({UNCHECKED: 0})
    finally:
        engine.dispose()


def restore_backup(source: Path, data_dir: Path, database_url: str | None = None) -> RestoreResult:
    """Fill the empty (or new) `data_dir` from the backup `source`; the database goes to SQLite
    in it, or to the empty database at `database_url`. Nothing is written unless the whole
    backup checks out."""
    if data_dir.exists() and any(data_dir.iterdir()):
        raise InvalidInput("--data-dir", f"{data_dir} is not empty: restore into a new or empty directory")
    if not source.is_file():
        raise InvalidInput("FILE", f"{source} does not exist")
    created = not data_dir.exists()
    staging = Path(tempfile.mkdtemp(dir=data_dir.parent if data_dir.parent.is_dir() else None, prefix=".restore-"))
    try:
        try:
            with tarfile.open(source, mode="r:gz") as tar:
                manifest = read_manifest(tar, source)
                _extract_checked(tar, manifest, staging, source)
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise InvalidInput("FILE", f"{source} is not a readable backup: {exc}") from None
        revision = str(manifest.get("revision"))
        if revision > schema.head():
            raise SetupError(f"{source} was made by a newer yiwang (schema {revision}, this one knows {schema.head()})")
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        data_dir.chmod(0o700)
        for path in sorted((staging / "files").rglob("*")):
            target = data_dir / path.relative_to(staging / "files")
            if path.is_dir():
                target.mkdir(parents=True, exist_ok=True, mode=0o700)
            else:
                target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                shutil.copy2(path, target)
                target.chmod(0o600)
        settings = load_settings(data_dir, environ={})
        if settings.code.code != manifest.get("code"):
            raise InvalidInput(
                "FILE", f"{source}: its manifest names {manifest.get('code')}, its settings {settings.code}"
            )
        url = settings.database_url if database_url is None else database_url
        if url:
            rows = sum(snapshot.load(staging / DATABASE, url).values())
        else:
            shutil.copy2(staging / DATABASE, data_dir / DB_NAME)
            (data_dir / DB_NAME).chmod(0o600)
            rows = sum(int(n) for n in dict(manifest.get("rows", {})).values())
        if url != settings.database_url:
            write_settings(replace(settings, database_url=url))
        if settings.parent:
            _unchecked(url or f"sqlite:///{data_dir / DB_NAME}")
    except BaseException:
        if created:
            shutil.rmtree(data_dir, ignore_errors=True)
        elif data_dir.exists():
            for child in data_dir.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    where = "SQLite" if not url else shown_url(url)
    return RestoreResult(str(data_dir), str(manifest["code"]), str(manifest.get("made_at")), revision, where, rows)
