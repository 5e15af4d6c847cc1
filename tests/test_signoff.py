"""Monthly sign-off (issue 11): a node signs its subtree's figures for a finished month after all
its child nodes did, naming their sign-offs; a city cannot sign before its counties; a change to
a signed month is flagged at every node that holds the sign-off, the province included. In-process
on real stores, plus the CLI."""

from __future__ import annotations

import pytest

from node.context import Node
from node.domain.errors import InvalidInput, StateConflict
from node.domain.lifecycle import Accept
from node.services.cases import FileRequest
from node.services.signoff import SignOffStatus
from node.store.tables import SignOffRow
from tests.conftest import Clock
from tests.fedtools import cli, cli_json
from tests.helpers import counts
from tests.test_custody import (
    CITY,
    COUNTY,
    COUNTY_B,
    ITEM,
    PERSON,
    PROVINCE,
    TOWNSHIP,
    TOWNSHIP_B,
    VILLAGE,
    VILLAGE_B,
    nodes,  # noqa: F401 - the fixture
    settle,
)

BOTTOM_UP = (VILLAGE, TOWNSHIP, COUNTY, VILLAGE_B, TOWNSHIP_B, COUNTY_B)


def signed(status: SignOffStatus) -> SignOffRow:
    assert status.signed is not None, f"{status.division} has not signed"
    return status.signed


def test_a_city_cannot_sign_before_its_counties_and_a_later_change_is_flagged_at_the_province(
    nodes: dict[str, Node],  # noqa: F811
    clock: Clock,
) -> None:
    county, city, province = nodes[COUNTY], nodes[CITY], nodes[PROVINCE]
    clock.set_local(2026, 11, 10)
    case_no = county.cases.file(FileRequest(ITEM, PERSON), "窗口-王").case_no
    county.cases.act(case_no, Accept(), "窗口-王")
    settle(nodes)
    with pytest.raises(InvalidInput, match="not over"):
        county.signoff.sign("2026-11", "监察-赵")
    clock.set_local(2026, 12, 1)
    before = counts(city)
    with pytest.raises(StateConflict, match="have not signed") as refused:
        city.signoff.sign("2026-11", "监察-赵")
    assert COUNTY in str(refused.value) and COUNTY_B in str(refused.value)
    assert counts(city) == before  # nothing written
    for code in BOTTOM_UP:
        nodes[code].signoff.sign("2026-11", "监察-赵")
        settle(nodes)
    with pytest.raises(StateConflict, match="already"):
        county.signoff.sign("2026-11", "监察-赵")
    row = city.signoff.sign("2026-11", "监察-钱")
    settle(nodes)
    assert sorted(child for child, _, _ in row.children) == [COUNTY, COUNTY_B]
    province.signoff.sign("2026-11", "省监察-孙")
    settle(nodes)
    status = {s.division: s for s in province.signoff.status("2026-11")}
    assert set(status) == {PROVINCE, CITY, *BOTTOM_UP}
    assert all(s.signed is not None and not s.changed and not s.uncovered for s in status.values())
    assert signed(status[COUNTY]).counts["filed"] == 1

    clock.set_local(2026, 11, 30)  # an entry of the signed month after the sign-off (a late one)
    county.cases.file(FileRequest(ITEM, PERSON), "窗口-王")
    settle(nodes)
    flagged = {s.division: s for s in province.signoff.status("2026-11")}
    for division in (COUNTY, CITY, PROVINCE):  # every sign-off over the county, as the province holds them
        assert signed(flagged[division]).changes_after >= 1, division
        assert flagged[division].changed["filed"] == (1, 2), division
    assert flagged[COUNTY_B].changed == {} and signed(flagged[COUNTY_B]).changes_after == 0
    at_county = {s.division: s for s in county.signoff.status("2026-11")}
    assert signed(at_county[COUNTY]).changes_after >= 1
    assert (
        "签署后有变更" in cli(province.settings.data_dir, "stats", "status", "--period", "2026-11", lang="zh_CN").stdout
    )
    assert province.stats.verify() == {}


def test_the_cli_signs_and_shows_the_status(nodes: dict[str, Node], clock: Clock) -> None:  # noqa: F811
    village = nodes[VILLAGE]
    home = village.settings.data_dir
    assert "YYYY-MM" in cli(home, "stats", "sign", "--period", "2026-13", expect=2).stderr
    signed = cli_json(home, "stats", "sign", "--period", "2026-02")
    assert signed["division"] == VILLAGE
    shown = cli_json(home, "stats", "status", "--period", "2026-02")
    assert [(n["division"], n["signed"]) for n in shown["nodes"]] == [(VILLAGE, True)]
    assert "已签署" in cli(home, "stats", "status", "--period", "2026-02", lang="zh_CN").stdout
    assert "already" in cli(home, "stats", "sign", "--period", "2026-02", expect=4).stderr
