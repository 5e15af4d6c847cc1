"""deploy/ansible for real (issue 13): the playbooks applied to this machine with a local
connection bring up a three-tier chain (province, city, county) in separate directories and
ports, installed from a wheel of this checkout; a second run changes nothing; the rolling
upgrade (leaves first, a backup before, the schema step) to a newer wheel loses no entry; the
role's documentation equals its defaults, and ansible-lint passes (a failure fails the suite)."""

from __future__ import annotations

import getpass
import grp
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from node.app.bus import free_port
from tests.conftest import ROOT, shared
from tests.fedtools import case_json, cli, cli_json, wait_for

ANSIBLE = ROOT / "deploy" / "ansible"
BIN = Path(sys.executable).parent
CHAIN = {
    "sc-province": ("510000000000", ""),
    "ga-city": ("511600000000", "sc-province"),
    "ga-district": ("511602000000", "ga-city"),
}
ITEM = "511A0138600000-511602000000-000-115113010833722043-1-00"


def _wheel(out: Path, version: str | None = None) -> None:
    """A wheel of this checkout (with another version number, for the upgrade) into `out`, built
    from a copy so that the build writes nothing into the checkout."""
    source = out.parent / f"src-{version or 'this'}"
    ignored = shutil.ignore_patterns(".venv", ".git", "*.egg-info", "build", "demo-data", "test-*", "__pycache__")
    shutil.copytree(ROOT, source, ignore=ignored)
    if version is not None:
        pyproject = source / "pyproject.toml"
        pyproject.write_text(re.sub(r'^version = ".*"$', f'version = "{version}"', pyproject.read_text(), flags=re.M))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            str(source),
        ],
        check=True,
        timeout=300,
        capture_output=True,
    )


def _manager() -> str:
    """systemd where it is PID 1, else supervisord (containers, CI)."""
    try:
        return "systemd" if Path("/proc/1/comm").read_text().strip() == "systemd" else "supervisor"
    except OSError:
        return "supervisor"


class Deployment:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.wheels = base / "wheelhouse"
        self.inventory = base / "inventory.yml"
        hosts: dict[str, Any] = {}
        for name, (code, parent) in CHAIN.items():
            hosts[name] = {
                "yiwang_node_code": code,
                "yiwang_node_parent": parent,
                "yiwang_node_home": str(base / "nodes" / code),
                "yiwang_node_listen": f"127.0.0.1:{free_port()}",
                "yiwang_node_enroll_listen": f"127.0.0.1:{free_port()}",
                "yiwang_node_api_listen": f"127.0.0.1:{free_port()}",
            }
        hosts["sc-province"]["yiwang_node_divisions_file"] = str(shared("divisions_sichuan.csv"))
        common = {
            "ansible_connection": "local",
            "ansible_become": False,  # the playbooks become root; the test runs as whoever runs it
            "yiwang_node_install_throttle": 1,  # three nodes share this host's environment
            "ansible_python_interpreter": sys.executable,
            "yiwang_node_advertise_host": "127.0.0.1",
            "yiwang_node_manage_user": False,
            "yiwang_node_become": False,
            "yiwang_node_user": getpass.getuser(),
            "yiwang_node_group": grp.getgrgid(os.getgid()).gr_name,
            "yiwang_node_venv": str(base / "venv"),
            "yiwang_node_wheelhouse": str(self.wheels),
            "yiwang_node_wheelhouse_dest": str(base / "wheelhouse-on-host"),
            "yiwang_node_wheelhouse_with_index": True,  # the dependencies from the package index
            "yiwang_node_bin_link": "",
            "yiwang_node_bus": False,
            "yiwang_node_service_manager": _manager(),
            "yiwang_node_logrotate_dir": str(base / "logrotate.d"),
            "yiwang_node_backup_dir": str(base / "backups"),
            "yiwang_node_lang": "en",
        }
        groups = {"sc-province": "province", "ga-city": "cities", "ga-district": "counties"}
        children = {g: {"hosts": {h: hosts[h]}} for h, g in groups.items()}
        children |= {"townships": {"hosts": {}}, "villages": {"hosts": {}}}
        doc = {"all": {"children": {"yiwang": {"vars": common, "children": children}}}}
        self.inventory.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
        (base / "logrotate.d").mkdir()

    def home(self, name: str) -> Path:
        return self.base / "nodes" / CHAIN[name][0]

    def play(self, playbook: str, *extra: str) -> dict[str, dict[str, int]]:
        """Run a playbook; the recap's counts per host."""
        env = {**os.environ, "ANSIBLE_CONFIG": str(ANSIBLE / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
        env["PATH"] = f"{BIN}:{env['PATH']}"
        proc = subprocess.run(
            [str(BIN / "ansible-playbook"), "-i", str(self.inventory), str(ANSIBLE / "playbooks" / playbook), *extra],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert proc.returncode == 0, f"{playbook}: exit {proc.returncode}\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
        recap = proc.stdout[proc.stdout.index("PLAY RECAP") :]
        counts = {}
        for host, fields in re.findall(r"^(\S+)\s+:\s+(.*)$", recap, flags=re.M):
            counts[host] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", fields)}
        return counts

    def stop(self) -> None:
        """Stop every node the deployment started, by its supervisord's pid (systemd: its unit)."""
        for name, (code, _) in CHAIN.items():
            if _manager() == "systemd":
                subprocess.run(["systemctl", "stop", f"yiwang-{code}.service"], timeout=60, check=False)
                continue
            pidfile = self.home(name) / "supervisor" / "supervisord.pid"
            if pidfile.exists():
                pid = int(pidfile.read_text().strip())
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
                deadline = time.monotonic() + 40
                while time.monotonic() < deadline and _alive(pid):
                    time.sleep(0.2)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    d = Deployment(tmp_path_factory.mktemp("deploy"))
    _wheel(d.wheels)
    try:
        first = d.play("install.yml")
        assert all(c["failed"] == 0 and c["unreachable"] == 0 for c in first.values()), first
        yield d
    finally:
        d.stop()


def test_the_playbook_brings_up_a_three_tier_chain_whose_links_are_healthy(deployed: Deployment) -> None:
    for name, (code, parent) in CHAIN.items():
        status = cli_json(deployed.home(name), "status")
        assert status["running"] and status["code"] == code, name
        if parent:
            links = {p["code"]: p["state"] for p in status["peers"] if p["role"] == "parent"}
            assert links == {CHAIN[parent][0]: "connected"}, name
    # the province published its tree, and the county names its townships from it
    county = deployed.home("ga-district")
    assert cli_json(county, "divisions", "show", "511602001001")["name"] == "翠屏路社区居委会"
    settings = cli_json(county, "config", "show")
    assert {r["setting"]: r["source"] for r in settings}["federation.parent"] == "file"
    assert (deployed.base / "logrotate.d" / "yiwang-511602000000").read_text().count("copytruncate") == 1


def test_a_second_run_changes_nothing(deployed: Deployment) -> None:
    again = deployed.play("install.yml")
    assert {host: (c["changed"], c["failed"]) for host, c in again.items()} == {h: (0, 0) for h in CHAIN}


def test_the_rolling_upgrade_backs_up_migrates_and_loses_no_entry(deployed: Deployment) -> None:
    county, province = deployed.home("ga-district"), deployed.home("sc-province")
    (deployed.base / "item.json").write_text(
        '[{"basic_code": "511A0138600000", "implementation_code": "' + ITEM + '", "name": "教师资格认定", '
        '"power_type": "01", "department": "区教科体局", "division_code": "511602000000", "legal_limit_days": 20}]',
        encoding="utf-8",
    )
    cli(county, "catalog", "import", str(deployed.base / "item.json"))
    filed = [
        cli_json(county, "case", "file", "--item", ITEM, "--name", "王大妈", "--id", "440524188001010014")["case_no"]
        for _ in range(3)
    ]
    wait_for(lambda: all(case_json(province, n) for n in filed), 60, "the cases at the province")
    before = {name: _entries(deployed.home(name)) for name in CHAIN}
    _wheel(deployed.wheels, "0.1.1")
    recap = deployed.play("upgrade.yml", "-e", "yiwang_node_version=0.1.1")
    assert all(c["failed"] == 0 for c in recap.values()) and set(recap) == set(CHAIN), recap
    shown = subprocess.run(
        [str(deployed.base / "venv" / "bin" / "pip"), "show", "yiwang"], capture_output=True, text=True, timeout=60
    )
    assert "Version: 0.1.1" in shown.stdout
    for name in CHAIN:
        home = deployed.home(name)
        assert cli_json(home, "status")["running"], name
        assert cli_json(home, "audit", "verify")["ok"], name
        assert _entries(home) >= before[name], name  # nothing lost
        backups = list((deployed.base / "backups").glob(f"{CHAIN[name][0]}-*.tar"))
        assert len(backups) == 1 and backups[0].stat().st_mode & 0o777 == 0o600, name
    for case_no in filed:
        assert cli_json(province, "case", "show", case_no)["case_no"] == case_no


def _entries(home: Path) -> int:
    return sum(int(s["entries"]) for s in cli_json(home, "audit", "verify")["streams"])


def test_the_role_documents_every_variable_and_ansible_lint_passes() -> None:
    check = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "ansible_argspec.py"), "--check"], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr
    lint = subprocess.run(
        [str(BIN / "ansible-lint"), "--nocolor"],
        cwd=ANSIBLE,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"},
    )
    assert lint.returncode == 0, lint.stdout[-4000:] + lint.stderr[-2000:]
