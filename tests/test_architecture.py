"""DESIGN.md section 2's layers, checked on the source by import-linter (the contracts in
pyproject.toml), plus what import-linter cannot see: the standard library modules the domain
may use. The contracts are also shown to fail: a copy of the tree with one wrong import must
break them, so a check that cannot fail is not mistaken for a passing one."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

LINT = Path(sys.executable).with_name("lint-imports")
PACKAGES = ("node", "sync", "federation", "proto")

# What the domain may import from the standard library: values, text, dates and maths. No
# files, sockets, processes, threads, clocks or randomness: those are passed in.
DOMAIN_STDLIB = {
    "__future__", "collections", "dataclasses", "datetime", "enum", "functools", "hashlib", "itertools",
    "json", "math", "re", "typing", "unicodedata", "bisect", "struct", "operator", "string", "decimal",
}  # fmt: skip


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{root / 'proto'}"}
    return subprocess.run(
        [str(LINT), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def copy_tree(dest: Path) -> Path:
    for name in PACKAGES:
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def test_the_import_contracts_hold() -> None:
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "wrong_import", "contract"),
    [
        ("node/domain/errors.py", "import node.store.db", "Layers point one way"),
        ("node/store/tables.py", "import sync.routing", "Layers point one way"),
        ("federation/wire/keys.py", "from node.services import ports", "Layers point one way"),
        ("node/services/cases.py", "import federation.transport.link", "Layers point one way"),
        ("sync/routing.py", "import grpc", "touch the generated code"),
        ("node/services/audit.py", "import sqlalchemy", "Only node.store speaks SQL"),
        ("node/domain/calendar.py", "import structlog", "The domain does no I/O"),
    ],
)
def test_a_wrong_import_breaks_a_contract(tmp_path: Path, module: str, wrong_import: str, contract: str) -> None:
    root = copy_tree(tmp_path)
    path = root / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{wrong_import}  # noqa\n", encoding="utf-8")
    result = lint(root)
    assert result.returncode != 0, result.stdout
    broken = " ".join(result.stdout.split("Broken contracts", 1)[-1].split())  # the report wraps lines
    assert contract in broken, result.stdout


def imports(path: Path) -> set[str]:
    """Every module a file imports, relative imports resolved against its package."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                found.add(".".join([*base, *([node.module] if node.module else [])]))
            elif node.module:
                found.add(node.module)
    return found


def test_the_domain_uses_only_pure_parts_of_the_standard_library() -> None:
    for path in sorted((ROOT / "node/domain").rglob("*.py")):
        for name in imports(path):
            top = name.split(".")[0]
            if top == "node":
                assert name.startswith("node.domain"), (path, name)
            else:
                assert top in DOMAIN_STDLIB or top == "chinese_calendar", (path, name)


def test_relative_imports_are_resolved_so_they_cannot_hide(tmp_path: Path) -> None:
    sample = ROOT / "node/domain/_probe_relative.py"
    sample.write_text("from ..store import db  # noqa\n", encoding="utf-8")
    try:
        assert "node.store" in imports(sample)
    finally:
        sample.unlink()


def test_key_types_stay_inside_the_wire_layer(tmp_path: Path) -> None:
    """Outside federation.wire, code holds opaque keys of a crypto suite (issue 9); ruff's
    banned-api rule in pyproject.toml refuses a library key type anywhere else."""
    ruff = Path(sys.executable).with_name("ruff")
    clean = subprocess.run([str(ruff), "check", "--select", "TID251", "."], cwd=ROOT, capture_output=True, text=True)
    assert clean.returncode == 0, clean.stdout
    root = copy_tree(tmp_path)
    path = root / "sync" / "mail.py"
    path.write_text(
        path.read_text(encoding="utf-8") + "\nfrom cryptography.hazmat.primitives.asymmetric import ec  # noqa: F401\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [str(ruff), "check", "--select", "TID251", "sync/mail.py"], cwd=root, capture_output=True, text=True
    )
    assert result.returncode != 0 and "keys are opaque" in result.stdout, result.stdout
