"""`yiwang sim`: a real local federation for a branch of any province's division tree.

The tree comes from a division file (`--divisions FILE`, CSV with code and name; without it the
package's example tree of the branch's province, if it ships one). The province publishes it
with `yiwang divisions import`, so every node learns its own name and its children's from its
province, as a real deployment does.

Every node is a separate `yiwang run` process on 127.0.0.1 with ports it picks itself, and
every child is enrolled through the real CLI (`enroll token` on the parent, `init --parent
--token` on the child). The branch is the path from the province to --branch, continued down
through first children to a township, plus --villages villages under it; --branch repeated
runs the union of several branches (two counties, two cities). `sim.json` in the
folder records every node's code, data directory, pid and ports; `yiwang sim stop` ends them
by those pids.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from node import sim_clock
from node.cli.common import _, console, print_json, process_alive
from node.divisions_data import example_file
from node.domain.divisions import DivisionCode, DivisionRegistry, Tier
from node.domain.errors import InvalidInput, SetupError
from node.services.divisions import read_divisions_file

sim_app = typer.Typer(
    help="A local federation of real processes for a branch of the division tree.", invoke_without_command=True
)
PORTS = [
    "--listen",
    "127.0.0.1:0",
    "--enroll-listen",
    "127.0.0.1:0",
    "--api-listen",
    "127.0.0.1:0",
    "--web-listen",
    "127.0.0.1:0",
]


Tree = tuple[Path, DivisionRegistry]


def load_trees(branches: list[DivisionCode], files: list[Path]) -> dict[str, Tree]:
    """The division file and tree of each province of `branches`, by two-digit prefix: from
    `files`, else from the package's example tree of that province."""
    trees: dict[str, Tree] = {}
    for path in files:
        divisions = read_divisions_file(path)
        trees[divisions[0].code.code[:2]] = (path, DivisionRegistry(divisions))
    for branch in branches:
        province = branch.code[:2]
        if province not in trees:
            example = example_file(province)
            if example is None:
                raise InvalidInput(
                    "--divisions", f"no division file covers {branch}: pass its province's tree as --divisions FILE"
                )
            trees[province] = (example, DivisionRegistry(read_divisions_file(example)))
    return trees


def branch_codes(branch: DivisionCode, villages: int, registry: DivisionRegistry) -> list[DivisionCode]:
    """Province down to a township through `branch`, then `villages` of that township."""
    if branch not in registry:
        raise InvalidInput("--branch", f"{branch} is not in the division file of its province")
    path = [*reversed(list(branch.ancestors())), branch]
    while path[-1].tier < Tier.TOWNSHIP:
        children = registry.children(path[-1])
        if not children:
            raise InvalidInput("--branch", f"{path[-1]} has no children in the division data")
        path.append(children[0].code)
    if path[-1].tier == Tier.TOWNSHIP:
        path.extend(d.code for d in registry.children(path[-1])[:villages])
    return path


def tree_codes(branches: list[DivisionCode], villages: int, trees: dict[str, Tree]) -> list[DivisionCode]:
    """The union of several branches' paths, parents before children, each code once."""
    seen: dict[str, DivisionCode] = {}
    for b in branches:
        for code in branch_codes(b, villages, trees[b.code[:2]][1]):
            seen.setdefault(code.code, code)
    return sorted(seen.values(), key=lambda c: (c.tier, c.code))


def _cli(home: Path, *args: str, check: bool = True) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "node.cli.app", *args, "-d", str(home)], capture_output=True, text=True, timeout=120
    )
    if proc.returncode != 0 and check:
        raise SetupError(f"`yiwang {' '.join(args)}` failed: {proc.stderr.strip()}")
    return proc.stdout if proc.returncode == 0 else ""


def _wait_known(home: Path, code: DivisionCode, limit: float = 60.0) -> None:
    """Wait until the node at `home` holds `code` in its division list (the province's list
    reaches it by replication)."""
    deadline = time.monotonic() + limit
    while not _cli(home, "divisions", "show", code.code, "--json", check=False):
        if time.monotonic() > deadline:
            raise SetupError(f"{home.name} did not receive its province's division list within {limit:.0f} s")
        time.sleep(0.3)


def _start(home: Path, ping_every: float) -> dict[str, Any]:
    (home / "run.json").unlink(missing_ok=True)
    log = (home / "run.out").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "node.cli.app", "run", "-d", str(home), "--ping-every", str(ping_every)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SetupError(f"{home.name} exited: {(home / 'run.out').read_text()[-500:]}")
        try:
            info: dict[str, Any] = json.loads((home / "run.json").read_text())
            if info.get("pid") == proc.pid:
                return info
        except (FileNotFoundError, json.JSONDecodeError):
            pass
        time.sleep(0.1)
    raise SetupError(f"{home.name} did not start within 30 s")


def stop_all(folder: Path) -> int:
    """Stop every node of a sim by the pid it recorded; returns how many were running."""
    try:
        nodes = json.loads((folder / "sim.json").read_text())["nodes"]
    except FileNotFoundError:
        return 0
    stopped = []
    for node in reversed(nodes):
        try:
            os.kill(int(node["pid"]), signal.SIGTERM)
            stopped.append(int(node["pid"]))
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 20  # each node shuts its servers down with a 2 s grace
    while stopped and time.monotonic() < deadline:
        stopped = [pid for pid in stopped if process_alive(pid)]
        time.sleep(0.1)
    for pid in stopped:  # still there after 20 s: no more grace
        os.kill(pid, signal.SIGKILL)
    return len(nodes)


@sim_app.callback()
def sim(
    ctx: typer.Context,
    branch: Annotated[
        list[str] | None,
        typer.Option(help="A division code: the sim runs the path down to it; repeat for a wider tree"),
    ] = None,
    divisions: Annotated[
        list[Path] | None,
        typer.Option(help="A province's division tree (CSV: code,name); default: the packaged example tree"),
    ] = None,
    villages: Annotated[int, typer.Option(min=0, max=20, help="Villages under the township")] = 2,
    folder: Annotated[Path, typer.Option("--dir", help="Where the nodes' data directories go")] = Path("sim-data"),
    detach: Annotated[bool, typer.Option(help="Leave the nodes running and return")] = False,
    ping_every: Annotated[float, typer.Option(help="Seconds between link pings")] = 1.0,
    bus: Annotated[bool, typer.Option(help="Each node publishes to its event bus")] = True,
    suite: Annotated[str, typer.Option(help="The provinces' crypto suite: p256, or sm2 (national)")] = "p256",
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Start the branch's nodes, enroll each through the CLI, and run until Ctrl-C (or --detach)."""
    if ctx.invoked_subcommand is not None:
        return
    if not branch:
        raise InvalidInput("--branch", "name the branch to run, e.g. a township's 12-digit code")
    branches = [DivisionCode.parse(b, "--branch") for b in branch]
    trees = load_trees(branches, list(divisions or []))
    codes = tree_codes(branches, villages, trees)
    if (folder / "sim.json").exists() and stop_all(folder):
        time.sleep(1)
    folder.mkdir(parents=True, exist_ok=True)
    clock = sim_clock.start(folder)
    nodes: list[dict[str, Any]] = []
    homes: dict[str, Path] = {}
    try:
        for code in codes:
            home = folder / code.code
            if home.exists():
                import shutil

                shutil.rmtree(home)
            parent = code.parent()
            bus_flag = [] if bus else ["--no-bus"]
            if parent is None:
                _cli(home, "init", "--code", code.code, "--suite", suite, *PORTS, *bus_flag)
                _cli(home, "divisions", "import", str(trees[code.code[:2]][0]))
            else:
                if code.tier > Tier.COUNTY:
                    _wait_known(homes[parent.code], code)
                token = json.loads(_cli(homes[parent.code], "enroll", "token", "--child", code.code, "--json"))["token"]
                parent_port = next(n for n in nodes if n["code"] == parent.code)["federation"]
                _cli(home, "init", "--code", code.code, "--parent", parent_port, "--token", token, *PORTS, *bus_flag)
            sim_clock.mark(home, clock)
            info = _start(home, ping_every)
            homes[code.code] = home
            nodes.append(
                {
                    "code": code.code,
                    "name": trees[code.code[:2]][1].get(code).name,
                    "tier": code.tier.label,
                    "data_dir": str(home),
                    **info,
                }
            )
            (folder / "sim.json").write_text(json.dumps({"nodes": nodes}, ensure_ascii=False, indent=1))
    except BaseException:
        stop_all(folder)
        raise
    if json_out:
        print_json({"nodes": nodes})
    else:
        for n in nodes:
            console.print(
                f"{n['tier']:9s} {n['code']} {n['name']}: pid {n['pid']}, federation {n.get('federation', '-')},"
                f" api {n['api']}, data {n['data_dir']}",
                highlight=False,
            )
    if detach:
        return
    console.print("running; Ctrl-C stops every node")
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        stop_all(folder)


@sim_app.command("stop")
def stop(folder: Annotated[Path, typer.Option("--dir")] = Path("sim-data")) -> None:
    """Stop the nodes of a detached sim (by their recorded pids)."""
    console.print(f"stopped {stop_all(folder)} node(s)")


@sim_app.command("clock")
def clock_cmd(
    advance: Annotated[
        float, typer.Option("--advance-days", help="Move every node of the sim this many days ahead (0: just show)")
    ] = 0.0,
    folder: Annotated[Path, typer.Option("--dir")] = Path("sim-data"),
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show the sim's time, or move it ahead: every node of the sim, running or not, reads the
    machine's clock plus this offset (a reviewer's silence or a case's due date in minutes)."""
    path = folder.resolve() / sim_clock.CLOCK_FILE
    offset = sim_clock.advance(folder, advance) if advance else sim_clock.read_offset(path)
    now = sim_clock.OffsetClock(path)()
    if json_out:
        print_json({"now": now.isoformat(), "offset_days": offset.total_seconds() / 86400})
        return
    console.print(
        _("Sim time: {now} ({days:.2f} days ahead of this machine)").format(
            now=now.astimezone().strftime("%Y-%m-%d %H:%M"), days=offset.total_seconds() / 86400
        ),
        highlight=False,
    )
