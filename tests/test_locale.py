"""The CLI in the operator's language (issue 12): Chinese unless YIWANG_LANG or the locale asks
for English; a refused step names the allowed ones as the CLI spells them; timelines in words
(no entry kinds, no `channel=1`); a step that moves custody says where the case went; overdue
cases listed apart; codes never cut."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from node.context import Node
from node.domain.lifecycle import Accept
from node.services.cases import Applicant, FileRequest
from tests.conftest import Clock, licence_item
from tests.fedtools import cli
from tests.test_replica import CHAIN, enroll, province_node

PERSON = Applicant("1", "王大妈", "440524188001010014", "13566667777")


def run(home: Path, lang: str, *args: str, expect: int = 0, columns: int = 200) -> subprocess.CompletedProcess[str]:
    return cli(home, *args, expect=expect, lang=lang, columns=columns)


@pytest.fixture
def node(tmp_path: Path, clock: Clock) -> Iterator[Node]:
    """An enrolled county (it can hand cases over)."""
    province = province_node(tmp_path / CHAIN[0], CHAIN[0], clock)
    city = enroll(province, CHAIN[1], tmp_path, clock)
    county = enroll(city, CHAIN[2], tmp_path, clock)
    yield county
    for n in (county, city, province):
        n.close()


def test_the_cli_speaks_chinese_by_default_and_english_when_asked(node: Node) -> None:
    item = licence_item().implementation_code
    node.catalog.import_items([licence_item()])
    late = node.cases.file(FileRequest(item, PERSON), "窗口-王").case_no
    node.cases.act(late, Accept(("体检表",)), "窗口-王")  # 2026-03-02: long past due by now
    waiting = node.cases.file(FileRequest(item, PERSON), "窗口-王").case_no
    home = node.settings.data_dir

    shown = run(home, "zh_CN", "case", "show", late).stdout
    for words in ("办理过程", "提交申请", "已受理", "容缺材料: 体检表", "经办人"):
        assert words in shown, words
    assert "case_" not in shown and "channel=" not in shown and "missing_materials" not in shown
    assert run(home, "en", "case", "show", late).stdout.count("Application filed") == 1

    listed = run(home, "zh_CN", "case", "list", "--overdue", columns=80).stdout.splitlines()
    assert listed[1].startswith(late) and listed[2].strip() == item and waiting not in "".join(listed)
    wide = run(home, "zh_CN", "case", "list", columns=200).stdout
    assert late in wide and waiting in wide and item in wide  # whole codes in the table's lines

    refused = run(home, "zh_CN", "case", "review", waiting, expect=4).stderr
    assert refused.startswith("错误：") and "现在不能执行 `yiwang case review`" in refused.replace("\n", "")
    assert "`yiwang case accept`" in refused.replace("\n", "") and "case take" not in refused  # no offer open
    english = run(home, "en", "case", "review", waiting, expect=4).stderr.replace("\n", "")
    assert "`yiwang case review` is not allowed now; allowed: `yiwang case accept`" in english

    missing = run(home, "zh_CN", "case", "deliver", "511602000000202601010001", expect=3).stderr
    assert "本节点没有此办件：511602000000202601010001" in missing
    unknown = run(home, "zh_CN", "case", "file", "--item", item, "--name", " ", "--id", "440524188001010014", expect=2)
    assert "请检查申请人姓名：" in unknown.stderr

    moved = run(home, "zh_CN", "case", "offer", waiting, "--to", "511602001000").stdout.replace("\n", "")
    assert "已提请移交至 511602001000，答复期限" in moved and "当前在 511602000000" in moved
