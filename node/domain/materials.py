"""Materials as files (申请材料): content-addressed by the SHA-256 of their bytes, bounded in
size, and moved between nodes in chunks that are stored as they arrive, so a transfer that
breaks resumes where it stopped. Their list travels inside the sealed bundle; their bytes are
sealed too and never enter a log."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from node.domain.errors import InvalidInput

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_CASE_BYTES = 50 * 1024 * 1024
CHUNK_BYTES = 256 * 1024


@dataclass(frozen=True)
class MaterialRef:
    name: str
    digest: str  # SHA-256 of the file's bytes, hex
    size: int


def material_ref(name: str, data: bytes) -> MaterialRef:
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("material", "a material needs a name of 1..100 characters (NAME=FILE)")
    if not data:
        raise InvalidInput("material", f"{name}: the file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise InvalidInput("material", f"{name}: {len(data)} bytes; at most {MAX_FILE_BYTES} per file")
    return MaterialRef(name, hashlib.sha256(data).hexdigest(), len(data))


def check_case_materials(refs: tuple[MaterialRef, ...]) -> None:
    if sum(r.size for r in refs) > MAX_CASE_BYTES:
        raise InvalidInput("material", f"at most {MAX_CASE_BYTES} bytes of materials per case")
    names = [r.name for r in refs]
    if len(set(names)) != len(names):
        raise InvalidInput("material", "a material name is given twice")


def chunks(data: bytes) -> list[bytes]:
    return [data[i : i + CHUNK_BYTES] for i in range(0, len(data), CHUNK_BYTES)] or [b""]
