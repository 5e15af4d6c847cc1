"""The node's settings (issue 13): one TOML file with every setting documented, validated at
start-up with errors that name the setting, environment overrides, `yiwang config show|check`,
and the operator guide's table equal to the code's list."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from node.config import CONFIG_NAME, OPTIONS, load_settings, write_settings
from node.context import Node
from node.domain.errors import SetupError
from tests.conftest import ROOT, Clock
from tests.fedtools import cli

COUNTY = "511602000000"


@pytest.fixture
def home(tmp_path: Path, clock: Clock) -> Path:
    Node.init(tmp_path / "county", COUNTY, clock=clock).close()
    return tmp_path / "county"


def doc_row(option: object) -> str:
    from node.config import Option, _toml

    assert isinstance(option, Option)
    env = f"`{option.env_name}`" if option.env else "(not from the environment)"
    return f"| `{option.name}` | {env} | `{_toml(option.default())}` | {option.doc} |"


def set_line(text: str, section: str, line: str) -> str:
    """The file with `line` (KEY = VALUE) in [section], in place of that key's line there."""
    out, current, key = [], "", line.split(" = ")[0]
    for x in text.splitlines():
        if x.startswith("["):
            current = x.strip("[]")
            out.append(x)
            if current == section:
                out.append(line)
        elif not (current == section and x.startswith(f"{key} = ")):
            out.append(x)
    return "\n".join(out) + "\n"


def test_the_written_file_documents_every_setting_and_reads_back_the_same(home: Path) -> None:
    text = (home / CONFIG_NAME).read_text(encoding="utf-8")
    documented, current, previous = set(), "", ""
    for line in text.splitlines():
        if line.startswith("["):
            current = line.strip("[]")
        elif " = " in line and not line.startswith("#"):
            option = next(o for o in OPTIONS if o.name == f"{current}.{line.split(' = ')[0]}")
            assert previous.startswith("# ") and option.doc in previous, option.name  # its meaning above it
            documented.add(option.name)
        previous = line
    assert documented == {o.name for o in OPTIONS}
    settings = load_settings(home, environ={})
    write_settings(settings)
    assert (home / CONFIG_NAME).read_text(encoding="utf-8") == text


@pytest.mark.parametrize(
    ("line", "section", "says"),
    [
        ('listn = "127.0.0.1:7400"', "federation", "federation.listn is not a setting"),
        ('listen = "nohost"', "federation", "federation.listen must be HOST:PORT"),
        ('listen = "127.0.0.1:70000"', "federation", "federation.listen must be HOST:PORT"),
        ("replicas = 9", "nats", "nats.replicas must be a whole number 1..5"),
        ('enabled = "yes"', "nats", "nats.enabled must be true or false"),
        ("warn_days_left = -1", "supervision", "supervision.warn_days_left must be a whole number 0..366"),
        ('profile = "town"', "node", "node.profile must be one of"),
        ('anchors = "abc"', "federation", "federation.anchors must be a list"),
        ("interval_seconds = 0", "supervision", "supervision.interval_seconds must be a number of seconds"),
        ('url = "mysql://root@localhost/db"', "database", "database.url must be a sqlite:/// or postgresql:// URL"),
    ],
)
def test_a_bad_setting_is_named_and_the_node_does_not_start(home: Path, line: str, section: str, says: str) -> None:
    path = home / CONFIG_NAME
    changed = set_line(path.read_text(encoding="utf-8"), section, line)
    path.write_text(changed, encoding="utf-8")
    with pytest.raises(SetupError, match=says.replace(".", r"\.").replace("(", r"\(")):
        load_settings(home, environ={})
    assert says in cli(home, "status", expect=5).stderr
    assert path.read_text(encoding="utf-8") == changed  # nothing rewritten


def test_an_unknown_section_is_named(home: Path) -> None:
    path = home / CONFIG_NAME
    path.write_text(path.read_text(encoding="utf-8") + '\n[fedaration]\nlisten = "x"\n', encoding="utf-8")
    with pytest.raises(SetupError, match=r"\[fedaration\] is not a section"):
        load_settings(home, environ={})


def test_the_environment_overrides_the_file_and_its_mistakes_are_named(home: Path) -> None:
    env = {"YIWANG_FEDERATION_LISTEN": "127.0.0.1:9400", "YIWANG_NATS_ENABLED": "false", "YIWANG_NATS_REPLICAS": "3"}
    settings = load_settings(home, environ=env)
    assert (settings.listen, settings.bus_enabled, settings.nats_replicas) == ("127.0.0.1:9400", False, 3)
    env = {"YIWANG_FEDERATION_PEERS": "620000000000@10.0.0.1:7400, 500000000000@10.0.0.2:7400"}
    assert load_settings(home, environ=env).peers == ("620000000000@10.0.0.1:7400", "500000000000@10.0.0.2:7400")
    with pytest.raises(SetupError, match=r"YIWANG_NATS_REPLICAS \(nats\.replicas\) must be a whole number"):
        load_settings(home, environ={"YIWANG_NATS_REPLICAS": "many"})
    with pytest.raises(SetupError, match="YIWANG_FEDERATION_LISTN is not a setting's environment variable"):
        load_settings(home, environ={"YIWANG_FEDERATION_LISTN": "127.0.0.1:1"})
    with pytest.raises(SetupError, match=r"node\.code is read from yiwang\.toml only"):  # the node's identity
        load_settings(home, environ={"YIWANG_NODE_CODE": "510000000000"})
    assert load_settings(home, environ={"YIWANG_LANG": "en", "YIWANG_HOME": "/x"}).listen == "127.0.0.1:7400"


def test_config_show_says_where_each_value_came_from_and_hides_secrets(home: Path) -> None:
    path = home / CONFIG_NAME
    path.write_text(path.read_text(encoding="utf-8").replace('password = ""', 'password = "s3cret-nats"'))
    os.environ["YIWANG_DATABASE_URL"] = "postgresql+psycopg://postgres:pg-s3cret@127.0.0.1:1/test"
    try:
        proc = cli(home, "config", "show", "--json")
    finally:
        del os.environ["YIWANG_DATABASE_URL"]
    rows = {r["setting"]: r for r in json.loads(proc.stdout)}
    assert set(rows) == {o.name for o in OPTIONS}
    assert (rows["nats.password"]["value"], rows["nats.password"]["source"]) == ("******", "file")
    assert rows["database.url"]["source"] == "env" and rows["database.url"]["value"].startswith("postgresql")
    assert "pg-s3cret" not in proc.stdout and "s3cret-nats" not in proc.stdout
    assert (rows["nats.replicas"]["value"], rows["nats.replicas"]["source"]) == (1, "file")
    assert "来源" in cli(home, "config", "show", lang="zh_CN").stdout  # the operator's language


def test_config_check_passes_a_fresh_node_and_names_what_would_stop_it(home: Path) -> None:
    assert json.loads(cli(home, "config", "check", "--json").stdout)["ok"]
    (home / "node.key").chmod(0o644)
    assert "node key" in cli(home, "config", "check", expect=5).stderr
    (home / "node.key").chmod(0o600)
    path = home / CONFIG_NAME
    text = path.read_text(encoding="utf-8")
    path.write_text(set_line(text, "web", 'listen = "0.0.0.0:8443"'))
    assert "off loopback" in cli(home, "config", "check", expect=5).stderr
    path.write_text(set_line(text, "federation", 'api_listen = "127.0.0.1:7400"'))
    assert "both 127.0.0.1:7400" in cli(home, "config", "check", expect=5).stderr


def test_the_operator_guide_lists_every_setting_as_the_code_has_it() -> None:
    guide = (ROOT / "docs" / "operator-guide.md").read_text(encoding="utf-8")
    for option in OPTIONS:
        assert doc_row(option) in guide, option.name


def test_a_variable_never_reaches_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A command that writes the settings back (`anchors add`) writes the file's values, not a
    YIWANG_* override (a password given to a container must not land on its disk)."""
    sichuan, chongqing = tmp_path / "sichuan", tmp_path / "chongqing"
    cli(sichuan, "init", "--code", "510000000000")
    cli(chongqing, "init", "--code", "500000000000")
    (tmp_path / "cq.pem").write_text(cli(chongqing, "keys", "root").stdout, encoding="utf-8")
    monkeypatch.setenv("YIWANG_NATS_PASSWORD", "from-the-environment")
    monkeypatch.setenv("YIWANG_FEDERATION_LISTEN", "127.0.0.1:9999")
    cli(sichuan, "anchors", "add", str(tmp_path / "cq.pem"))
    text = (sichuan / CONFIG_NAME).read_text(encoding="utf-8")
    assert "from-the-environment" not in text and "9999" not in text
    assert load_settings(sichuan, environ={}).anchors  # the anchor itself was written


def test_numbers_keep_their_value_through_the_file(home: Path) -> None:
    path = home / CONFIG_NAME
    path.write_text(set_line(path.read_text(encoding="utf-8"), "supervision", "interval_seconds = 1234.5678"))
    write_settings(load_settings(home, environ={}))
    assert load_settings(home, environ={}).supervision_interval == 1234.5678
