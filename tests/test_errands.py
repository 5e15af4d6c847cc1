"""Items open to errands (issue 12): the real district catalog arrives closed to village agents;
the county publishes its 代办事项清单 (codes, or a CSV), the list reaches the village with the
rest of the catalog, and an agent's errand is then filed there; re-importing the portal CSV
keeps the list; a code that is unknown or another division's changes nothing."""

from __future__ import annotations

import itertools
import urllib.parse
from dataclasses import replace
from pathlib import Path

import pytest

from node.context import Node
from node.domain.errors import ImportRejected, InvalidInput
from node.domain.roles import Role
from node.services.cases import FileRequest
from node.services.catalog_import import read_catalog_file, read_codes_csv, states_errands, write_codes_csv
from node.web.server import WebServer
from tests.browser import browser_page, keep, look
from tests.conftest import CATALOG_CSV, licence_item
from tests.helpers import counts
from tests.test_replica import CHAIN, PERSON, push_down, tree  # noqa: F401 - the fixture
from tests.test_workbench import SHOT, Session, submit

ITEM = "511A0138600000-511602000000-000-115113010833722043-1-00"  # 教师资格认定, 区教科体局
DEFER = "511A0138000000-511602000000-000-115113010833722043-1-00"  # 延缓入学或者休学审批


def _down(nodes: list[Node]) -> None:
    for parent, child in itertools.pairwise(nodes):
        while push_down(parent, child):  # a batch is bounded: until nothing is left
            pass


def _errand(item: str) -> FileRequest:
    return FileRequest(item, PERSON, agent="代办员-李", consent=True)


def test_the_county_opens_items_and_the_village_files_an_errand(tree: list[Node], tmp_path: Path) -> None:  # noqa: F811
    county, village = tree[2], tree[4]
    items = read_catalog_file(CATALOG_CSV)
    county.catalog.import_items(items, keep_errands=not states_errands(CATALOG_CSV))
    _down(tree[2:])
    assert not any(i.agent_allowed for i in items) and village.catalog.errands() == []
    with pytest.raises(InvalidInput, match="not open to errands"):
        village.cases.file(_errand(ITEM), "代办员-李")

    opened = county.catalog.set_errands([ITEM, DEFER, ITEM], True)
    assert (opened.changed, opened.unchanged) == (2, 0)
    assert county.catalog.set_errands([ITEM], True).changed == 0  # idempotent
    _down(tree[2:])
    assert [i.implementation_code for i in village.catalog.errands()] == sorted([ITEM, DEFER])
    assert [i.name for i in village.catalog.errands(query="教师")] == ["教师资格认定"]
    state = village.cases.file(_errand(ITEM), "代办员-李")
    assert state.agent == "代办员-李" and state.status == "filed"

    # the portal CSV says nothing about errands: importing it again keeps the list ...
    result = county.catalog.import_items(items, keep_errands=True)
    assert result.published == 0 and county.catalog.get(ITEM).agent_allowed
    without = county.catalog.import_items(items)  # the same file read as if it stated the flags: closes both
    assert without.published == 2 and not county.catalog.get(ITEM).agent_allowed
    county.catalog.set_errands([ITEM, DEFER], True)
    # ... while a full-field entry that states the flag sets it
    county.catalog.import_items([replace(county.catalog.get(DEFER), agent_allowed=False)])
    assert not county.catalog.get(DEFER).agent_allowed
    county.catalog.set_errands([DEFER], True)

    listed = tmp_path / "errands.csv"
    with listed.open("w", encoding="utf-8", newline="") as f:
        write_codes_csv(f, county.catalog.errands())
    assert read_codes_csv(listed) == sorted([ITEM, DEFER])
    assert county.catalog.set_errands(read_codes_csv(listed), False).changed == 2
    _down(tree[2:])
    assert village.catalog.errands() == []
    with pytest.raises(InvalidInput, match="not open to errands"):
        village.cases.file(_errand(DEFER), "代办员-李")


def test_a_bad_errand_list_changes_nothing(tree: list[Node], tmp_path: Path) -> None:  # noqa: F811
    province, county = tree[0], tree[2]
    county.catalog.import_items(read_catalog_file(CATALOG_CSV))
    theirs = licence_item(division=CHAIN[0], basic_code="511A0999900000", agent_allowed=False)  # the province's own
    province.catalog.import_items([theirs])
    _down(tree[:3])
    before = counts(county)
    with pytest.raises(ImportRejected, match="no catalog item 511A0000000000-X"):
        county.catalog.set_errands([ITEM, "511A0000000000-X"], True)
    with pytest.raises(ImportRejected, match=r"implemented by 510000000000, outside this node.s division"):
        county.catalog.set_errands([ITEM, theirs.implementation_code], True)
    with pytest.raises(InvalidInput, match="at least one"):
        county.catalog.set_errands([" ", ""], True)
    bad = tmp_path / "bad.csv"
    bad.write_text("implementation_code,name\n" + ITEM + ",x\n,empty\n", encoding="utf-8")
    with pytest.raises(ImportRejected, match="line 3: implementation_code is empty"):
        read_codes_csv(bad)
    (tmp_path / "nocol.csv").write_text("code\n" + ITEM + "\n", encoding="utf-8")
    with pytest.raises(ImportRejected, match="no implementation_code column"):
        read_codes_csv(tmp_path / "nocol.csv")
    assert counts(county) == before and county.catalog.errands() == []
    assert county.catalog.get(ITEM).name == "教师资格认定"  # still serves


def test_the_county_publishes_its_list_from_a_page(tree: list[Node]) -> None:  # noqa: F811
    county, village = tree[2], tree[4]
    county.catalog.import_items(read_catalog_file(CATALOG_CSV), keep_errands=True)
    county.principals.add_user("管理-孙", frozenset({Role.ADMIN}), "sun-password-1")
    county.principals.add_user("受理-钱", frozenset({Role.CLERK}), "qian-password-1")
    server = WebServer(county, "127.0.0.1:0")
    base = f"http://{server.start()}"
    try:
        with browser_page() as (page, seen):
            page.goto(f"{base}/login")
            page.fill("#name", "管理-孙")
            page.fill("#password", "sun-password-1")
            submit(page, "#login-button")
            page.click("header nav >> text=代办事项清单")
            page.fill("#q", "延缓入学")
            submit(page, "form[action='/catalog/errands'] button[type=submit] >> nth=0")
            page.check("#items input[name=open]")
            submit(page, "#publish-button")
            assert page.inner_text("#flash").startswith("已变更 1 项")
            look(page, seen, SHOT)
            keep("errand-list", seen.screenshot)
        assert seen.errors == [] and seen.outside == []
        assert [i.implementation_code for i in county.catalog.errands()] == [DEFER]
        _down(tree[2:])
        assert [i.implementation_code for i in village.catalog.errands()] == [DEFER]
        clerk = Session(base)
        clerk.log_in("受理-钱", "qian-password-1")
        before = counts(county)
        token = clerk.token("/work")
        assert clerk.post("/catalog/errands", {"csrf": token, "shown": DEFER}) == 403  # a clerk publishes nothing
        assert counts(county) == before and county.catalog.get(DEFER).agent_allowed
        assert DEFER in clerk.page("/catalog/errands.csv")  # but reads the list
        admin = Session(base)  # a page loaded before the list changed elsewhere keeps that change
        admin.log_in("管理-孙", "sun-password-1")
        stale = admin.page("/catalog/errands?q=" + urllib.parse.quote("教师资格"))
        assert f'name="shown" value="{ITEM}"' in stale and f'name="was" value="{ITEM}"' not in stale
        county.catalog.set_errands([ITEM], True)  # `yiwang catalog errands open` meanwhile
        fields = {"csrf": admin.token("/work"), "shown": ITEM}  # the stale page, nothing ticked
        assert admin.post("/catalog/errands", fields) == 200
        assert county.catalog.get(ITEM).agent_allowed
    finally:
        server.stop()
