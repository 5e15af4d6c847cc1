"""DESIGN.md section 2's dependency rules, checked on the source: node/domain is pure, sync/
never touches protobuf, gRPC or the database, only federation/ imports grpc and the
generated code, only node/store imports sqlmodel and SQLAlchemy."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def top(name: str) -> str:
    return name.split(".")[0]


def test_the_domain_is_pure() -> None:
    allowed = set(sys.stdlib_module_names) | {"chinese_calendar", "node", "__future__"}
    for path in files("node/domain"):
        for name in imports(path):
            assert top(name) in allowed and (top(name) != "node" or name.startswith("node.domain")), (path, name)


@pytest.mark.parametrize("forbidden", ["yiwang", "grpc", "google", "sqlmodel", "sqlalchemy", "federation.codec"])
def test_sync_works_on_domain_values_only(forbidden: str) -> None:
    for path in files("sync"):
        assert not any(n == forbidden or n.startswith(forbidden + ".") for n in imports(path)), (path, forbidden)


def test_only_federation_imports_grpc_and_the_generated_code() -> None:
    for folder in ("node", "sync"):
        for path in files(folder):
            assert not {top(n) for n in imports(path)} & {"grpc", "yiwang", "grpc_health"}, path


def test_only_the_store_imports_the_database_libraries() -> None:
    for folder in ("node", "sync", "federation"):
        for path in files(folder):
            if "node/store" in path.as_posix():
                continue
            assert not {top(n) for n in imports(path)} & {"sqlmodel", "sqlalchemy"}, path
