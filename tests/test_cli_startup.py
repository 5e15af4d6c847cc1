"""The root command loads a command's module only when that command runs (issue 13: a village
node's CLI starts fast): its help comes from the table in node/cli/app.py, which must say what
each command's own help says, and must name every command there is."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from node.cli.app import COMMANDS, command, load

ANY_PORT = ["--listen", "127.0.0.1:0", "--enroll-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0"]


def village(base: Path) -> Path:
    """A village node initialised in `base` (every port picked by the system)."""
    home = base / "village"
    init = [sys.executable, "-m", "node.cli.app", "init", "--code", "511602001001", "--no-bus", "-d", str(home)]
    subprocess.run([*init, *ANY_PORT], check=True, timeout=120)
    return home


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
        "loaded = sorted(m for m in sys.modules if m.startswith(('sqlalchemy', 'alembic', 'grpc', "
        "'node.cli.', 'node.context', 'node.store')))\n"
        "print('LOADED', loaded)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True).stdout
    assert "LOADED ['node.cli.app']" in out, out
    assert "case" in out and "Cases (办件)" in out  # the help itself was printed


def test_a_command_that_reads_the_database_does_not_import_alembic_grpc_or_the_web(tmp_path: Path) -> None:
    home = village(tmp_path)
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


def test_the_serving_process_holds_none_of_the_command_lines_libraries(tmp_path: Path) -> None:
    """`yiwang run` becomes node.cli.serve (the same PID): no typer, no pydantic, no rich."""
    home = village(tmp_path)
    probe = (
        "import os, sys, threading, time\n"
        "from pathlib import Path\n"
        f"home = Path({str(home)!r})\n"
        "def watch():\n"
        "    while not (home / 'run.json').exists():\n"
        "        time.sleep(0.1)\n"
        "    heavy = ('typer', 'pydantic', 'rich', 'click', 'alembic', 'starlette', 'nats')\n"
        "    held = {m.split('.')[0] for m, v in list(sys.modules.items()) if v is not None}\n"
        "    print('LOADED', sorted(held & set(heavy)), flush=True)\n"
        "    os._exit(0)\n"
        "threading.Thread(target=watch, daemon=True).start()\n"
        "sys.argv = ['serve', str(home), '5.0']\n"
        "from node.cli.serve import main\n"
        "main()\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert "LOADED []" in run.stdout, run.stdout + run.stderr
