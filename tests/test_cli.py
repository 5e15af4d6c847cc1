"""The CLI as an operator uses it: real processes, a real data directory, exit codes."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CATALOG_CSV, uncovered_year
from tests.fedtools import db_counts as fedtools_counts

ITEM = "511A0138600000-511602000000-000-115113010833722043-1-00"
NAME, ID_NUMBER, PHONE = "赵六", "440524188001010014", "13700009999"
FILE_ARGS = ["case", "file", "--item", ITEM, "--name", NAME, "--id", ID_NUMBER]


def yiwang(home: Path, *args: str, expect: int = 0, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """The CLI acting as the operator account window-1 (made in the `home` fixture)."""
    env = {**os.environ, "YIWANG_HOME": str(home), "YIWANG_ACTOR": "window-1", "COLUMNS": "200"}
    proc = subprocess.run(
        [sys.executable, "-m", "node.cli.app", *args], env=env, capture_output=True, text=True, timeout=120, input=stdin
    )
    assert proc.returncode == expect, f"{args}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def as_json(proc: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "node"
    yiwang(path, "init", "--code", "511602000000")
    out = as_json(yiwang(path, "catalog", "import", str(CATALOG_CSV), "--json"))
    assert out["published"] == 1135
    roles = ["--role", "clerk", "--role", "reviewer", "--role", "decider"]
    yiwang(path, "users", "add", "window-1", *roles, "--password-stdin", stdin="window-1 password\n")
    return path


def db_counts(home: Path) -> dict[str, int]:
    return fedtools_counts(home, skip=())


def test_init_refuses_a_second_node_and_a_bad_code(tmp_path: Path, home: Path) -> None:
    err = yiwang(home, "init", "--code", "511602000000", expect=5).stderr
    assert "already holds a node" in err
    bad = tmp_path / "bad"
    assert "12-digit" in yiwang(bad, "init", "--code", "51160", expect=2).stderr
    assert not bad.exists()


def test_walk_a_case_through_the_cli(home: Path) -> None:
    filed = as_json(
        yiwang(home, "case", "file", "--item", ITEM, "--name", NAME, "--id", ID_NUMBER, "--phone", PHONE, "--json")
    )
    case_no = filed["case_no"]
    yiwang(home, "case", "accept", case_no, "-m", "体检表")
    yiwang(home, "case", "supplement", case_no, "-m", "体检表")
    yiwang(home, "case", "decide", case_no, "--approve", "--result-ref", "教资-001")
    yiwang(home, "case", "deliver", case_no)
    yiwang(home, "case", "evaluate", case_no, "--level", "2")
    shown = as_json(yiwang(home, "case", "show", case_no, "--json"))
    assert shown["status"] == "evaluated" and "applicant" not in shown
    assert [t["kind"] for t in shown["timeline"]] == [
        "case_filed",
        "case_accepted",
        "case_supplemented",
        "case_decided",
        "case_delivered",
        "case_evaluated",
    ]
    assert all(t["actor"] == "window-1" for t in shown["timeline"])
    table = yiwang(home, "case", "show", case_no).stdout
    assert "timeline" in table and ID_NUMBER not in table and NAME not in table
    revealed = as_json(yiwang(home, "case", "show", case_no, "--reveal", "--json"))
    assert revealed["applicant"]["id_number"] == ID_NUMBER
    listed = as_json(yiwang(home, "case", "list", "--status", "evaluated", "--json"))
    assert case_no in [c["case_no"] for c in listed]
    audit = as_json(yiwang(home, "audit", "verify", "--json"))
    assert audit["ok"] is True


def test_personal_data_stays_out_of_the_log_file(home: Path) -> None:
    yiwang(home, "case", "file", "--item", ITEM, "--name", NAME, "--id", ID_NUMBER, "--phone", PHONE)
    log = (home / "logs" / "yiwang.log").read_text(encoding="utf-8")
    assert "case_filed" in log
    for secret in (NAME, ID_NUMBER, PHONE):
        assert secret not in log
    for line in log.splitlines():
        json.loads(line)  # structured: one JSON object per line


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["case", "file", "--item", ITEM, "--name", NAME, "--id", "440524188001010015"], 2, "check character"),
        (
            ["case", "file", "--item", "NO-SUCH-ITEM", "--name", NAME, "--id", ID_NUMBER],
            3,
            "Not found on this node: catalog item",
        ),
        (["case", "file", "--item", ITEM, "--name", NAME, "--id", ID_NUMBER, "--kind", "2"], 2, "credit code"),
        (["case", "deliver", "511602000000202601010001"], 3, "Not found on this node: the case"),
        (["calendar", "publish", "2027", "--holiday", "2027-02-30"], 2, "not a real date"),
        (["calendar", "publish", "2027", "--holiday", "2027-01-01", "--workday", "2027-01-05"], 2, "weekday"),
        (["case", "list", "--status", "lost"], 2, "--status"),
        (
            ["case", "file", "--item", ITEM, "--name", NAME, "--id", ID_NUMBER, "--material-file", "scan"],
            2,
            "NAME=FILE",
        ),
        (
            ["case", "file", "--item", ITEM, "--name", NAME, "--id", ID_NUMBER, "--material-file", "a=/no/file"],
            2,
            "read",
        ),
        (["case", "file", "--item", ITEM, "--name", NAME, "--id", ID_NUMBER, "--license", "/no/file"], 2, "read"),
        (["case", "decide", "511602000000202601010001", "--deny", "--license"], 2, "--license"),
        (["license", "verify", "/no/such/licence"], 2, "cannot read"),
        (["notice", "send", "--to", "511602000000", "--title", "t"], 2, "this node"),
    ],
)
def test_bad_input_gives_one_clear_line_and_writes_nothing(
    home: Path, args: list[str], code: int, message: str
) -> None:
    before = db_counts(home)
    proc = yiwang(home, *args, expect=code)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0]
    assert ID_NUMBER[:-4] not in proc.stderr
    assert db_counts(home) == before


def test_illegal_transition_exit_code_and_nothing_written(home: Path) -> None:
    case_no = as_json(yiwang(home, "case", "file", "--item", ITEM, "--name", NAME, "--id", ID_NUMBER, "--json"))[
        "case_no"
    ]
    before = db_counts(home)
    err = yiwang(home, "case", "deliver", case_no, expect=4).stderr
    assert "allowed: `yiwang case accept`, `yiwang case reject`, `yiwang case withdraw`" in err
    assert db_counts(home) == before


def test_malformed_import_row_is_reported_with_its_line(home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "items.csv"
    bad.write_text(
        "basic_code,implementation_code,name,power_type,department,division_code,legal_limit_days,promised_limit_days\n"
        "B1,B1-511602000000-1,某审批,01,区局,511602000000,20,10\n"
        "B2,B2-511602000000-1,某确认,07,区局,511602000000,ten,5\n",
        encoding="utf-8",
    )
    before = db_counts(home)
    err = yiwang(home, "catalog", "import", str(bad), expect=2).stderr
    assert "line 3" in err and "legal_limit_days" in err
    assert db_counts(home) == before


def test_full_field_json_import_and_show(home: Path, tmp_path: Path) -> None:
    item: dict[str, Any] = {
        "basic_code": "511F0001",
        "implementation_code": "511F0001-511602000000-000-115113010833722043-1-00",
        "name": "学生资助确认",
        "power_type": "07",
        "department": "区教科体局",
        "dept_credit_code": "115113010833722043",
        "division_code": "511602000000",
        "service_objects": ["1"],
        "handling_forms": ["1", "2"],
        "case_type": "2",
        "legal_limit_days": 15,
        "promised_limit_days": 5,
        "materials": ["身份证", "证明?"],
        "agent_allowed": True,
        "cross_region": True,
    }
    path = tmp_path / "items.json"
    path.write_text(json.dumps([item], ensure_ascii=False), encoding="utf-8")
    assert as_json(yiwang(home, "catalog", "import", str(path), "--json"))["published"] == 1
    shown = as_json(yiwang(home, "catalog", "show", item["implementation_code"], "--json"))
    assert shown["promised_limit_days"] == 5 and shown["cross_region"] is True
    assert shown["materials"][1] == {"name": "证明", "required": False, "note": ""}


def test_calendar_publish_and_show(home: Path, tmp_path: Path) -> None:
    """The province publishes the year; a county may not (exit 8, nothing written); a year the
    built-in calendar covers needs --override, which prints the days it changes."""
    year = uncovered_year()  # 2027 with chinese-calendar 1.11.0
    province = tmp_path / "province"
    yiwang(province, "init", "--code", "510000000000")
    week = ["--from", f"{year}-01-01", "--to", f"{year}-01-07", "--json"]
    out = as_json(yiwang(province, "calendar", "show", *week))
    assert [d["provisional"] for d in out["days"]] == [True] * 7
    weekend = next(d for d in (dt.date(year, 2, 13) + dt.timedelta(days=i) for i in range(7)) if d.weekday() >= 5)
    publish = ["calendar", "publish", str(year), "--holiday", f"{year}-01-01", "--holiday"]
    publish += [f"{year}-02-06..{year}-02-12", "--workday", weekend.isoformat(), "--source", "test"]
    before = db_counts(home)
    refused = yiwang(home, *publish, expect=8)
    assert "only the province" in refused.stderr and db_counts(home) == before
    yiwang(province, *publish)
    out = as_json(yiwang(province, "calendar", "show", *week))
    expected = [(dt.date(year, 1, d).weekday() < 5 and d != 1, False) for d in range(1, 8)]
    assert [(d["workday"], d["provisional"]) for d in out["days"]] == expected
    covered = year - 1
    cut = yiwang(province, "calendar", "publish", str(covered), "--holiday", f"{covered}-01-01", expect=2)
    assert "--override" in cut.stderr and "built-in calendar covers" in cut.stderr
    done = as_json(
        yiwang(province, "calendar", "publish", str(covered), "--holiday", f"{covered}-01-01", "--override", "--json")
    )
    assert [f"{covered}-10-01", True] in done["changed_days"]  # National Day, a working day under this one


def test_audit_verify_points_at_a_row_edited_in_the_database_file(tmp_path: Path) -> None:
    home = tmp_path / "node"
    yiwang(home, "init", "--code", "511602000000")
    yiwang(home, "catalog", "import", str(CATALOG_CSV))
    with sqlite3.connect(home / "yiwang.db") as conn:
        conn.execute("UPDATE entries SET body = body || x'00' WHERE stream = 'public' AND seq = 700")
    proc = yiwang(home, "audit", "verify", expect=6)
    assert "511602000000/public/700" in proc.stderr and "content" in proc.stderr


def test_a_refused_step_names_the_allowed_ones_as_the_cli_spells_them() -> None:
    from node.cli.common import CLI_STEPS, message_of
    from node.domain.errors import IllegalTransition
    from node.domain.lifecycle import Command, allowed_commands

    assert set(CLI_STEPS) == {c.value for c in Command}
    text = message_of(IllegalTransition("X", "accepted", "deliver", [c.value for c in allowed_commands(None)]))
    assert "`yiwang case deliver` is not allowed now; allowed: `yiwang case file`" in text
    decided = message_of(IllegalTransition("X", "filed", "deliver", ["decide_approve", "offer_custody"]))
    assert "`yiwang case decide --approve`, `yiwang case offer`" in decided and "decide_approve" not in decided
