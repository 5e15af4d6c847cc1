"""The root command loads a command's module only when that command runs (issue 13: a village
node's CLI starts fast): its help comes from the table in node/cli/app.py, which must say what
each command's own help says, and must name every command there is."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from node.cli.app import COMMANDS, command, load


def test_each_summary_of_the_root_is_the_first_line_of_the_commands_own_help() -> None:
    for entry in COMMANDS:
        real = load(entry)
        assert real.name == entry.name
        assert entry.summary == real.get_short_help_str(limit=1000), entry.name


def test_the_root_names_each_command_once_and_loads_all_of_them() -> None:
    names = [e.name for e in COMMANDS]
    assert len(names) == len(set(names))
    root = command()
    assert sorted(root.commands) == sorted(names)
    assert all(root.commands[n].callback is not None or hasattr(root.commands[n], "commands") for n in names)


def test_the_roots_help_imports_no_command_module_and_no_store() -> None:
    probe = (
        "import sys\n"
        "from node.cli.app import Root\n"
        "try:\n"
        "    Root().main(['--help'], prog_name='yiwang')\n"
        "except SystemExit:\n"
        "    pass\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('sqlalchemy', 'sqlmodel', 'alembic', 'grpc', "
        "'node.cli.', 'node.context', 'node.store')))\n"
        "print('LOADED', loaded)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True).stdout
    assert "LOADED ['node.cli.app']" in out, out
    assert "case" in out and "Cases (办件)" in out  # the help itself was printed


def test_a_command_that_reads_the_database_does_not_import_alembic_grpc_or_the_web(tmp_path: Path) -> None:
    home = tmp_path / "village"
    init = [sys.executable, "-m", "node.cli.app", "init", "--code", "511602001001", "--no-bus", "-d", str(home)]
    subprocess.run([*init, "--listen", "127.0.0.1:0", "--enroll-listen", "127.0.0.1:0"], check=True, timeout=120)
    probe = (
        "import sys\n"
        "from node.cli.app import Root\n"
        "try:\n"
        f"    Root().main(['case', 'list', '-d', {str(home)!r}], prog_name='yiwang')\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "heavy = ('alembic', 'mako', 'grpc', 'starlette', 'jinja2', 'nats', 'prometheus_client')\n"
        "print('LOADED', sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in heavy}))\n"
    )
    env = {**os.environ, "YIWANG_LANG": "zh_CN"}
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True, env=env)
    assert "办件 (显示 0 件)" in run.stdout  # it read the database: the node's (empty) list of cases
    assert "LOADED []" in run.stdout, run.stdout
