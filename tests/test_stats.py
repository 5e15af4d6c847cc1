"""Statistics counted by the projection (issue 11, step one): counters in the entry's
transaction at every node, local or received, the same at the county and the province for the
county's subtree, never twice for an entry delivered twice, equal to a recount from the log;
`yiwang stats` by period and a level down. In-process on real stores, plus the CLI."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from node.context import Node
from node.domain.errors import InvalidInput
from node.domain.lifecycle import Accept, AcceptCustody, Decide, Deliver, Evaluate, OfferCustody, Reject, Review
from node.services.cases import FileRequest
from node.services.stats import Period
from tests.conftest import Clock
from tests.fedtools import cli, cli_json
from tests.test_custody import (
    CITY,
    COUNTY,
    ITEM,
    PERSON,
    PROVINCE,
    VILLAGE,
    errand,
    nodes,  # noqa: F401 - the fixture
    settle,
)

NOVEMBER = Period.parse("2026-11")


@pytest.fixture
def worked(nodes: dict[str, Node], clock: Clock) -> Iterator[dict[str, Node]]:  # noqa: F811
    """A village errand handled at the county, delivered late and rated 不满意; a county case
    not accepted; all in November 2026."""
    clock.set_local(2026, 11, 2)  # a Monday
    village, county = nodes[VILLAGE], nodes[COUNTY]
    case_no = errand(village)
    settle(nodes)
    county.cases.act(case_no, AcceptCustody(COUNTY), "窗口-王")
    county.cases.act(case_no, Accept(), "窗口-王")  # 10 working days: due 2026-11-16
    clock.set_local(2026, 11, 20)
    county.cases.act(case_no, Review(), "窗口-王")
    county.cases.act(case_no, Decide(True, result_ref="R-1"), "窗口-王")
    county.cases.act(case_no, OfferCustody(VILLAGE, "result"), "窗口-王")
    settle(nodes)
    village.cases.act(case_no, AcceptCustody(VILLAGE), "代办员-李")
    village.cases.act(case_no, Deliver(), "代办员-李")
    village.cases.act(case_no, Evaluate(4), "代办员-李")
    other = county.cases.file(FileRequest(ITEM, PERSON), "窗口-王").case_no
    county.cases.act(other, Reject("材料不全且无法补正"), "窗口-王")
    settle(nodes)
    yield nodes


EXPECTED = {
    "filed": 2,
    "accepted": 1,
    "not_accepted": 1,
    "approved": 1,
    "denied": 0,
    "delivered": 1,
    "delivered_on_time": 0,
    "delivered_late": 1,
    "withdrawn": 0,
    "instant": 0,
    "online": 0,
    "agent": 1,
    "cross_region": 0,
    "eval_1": 0,
    "eval_2": 0,
    "eval_3": 0,
    "eval_4": 1,
    "eval_5": 0,
    "bad_reviews": 1,
}


def test_every_tier_counts_its_subtree_the_same_and_a_recount_agrees(worked: dict[str, Node]) -> None:
    for code in (COUNTY, CITY, PROVINCE):
        [total] = worked[code].stats.figures(COUNTY, NOVEMBER)
        assert total.counts == EXPECTED, code
        assert worked[code].stats.verify() == {}, code
    [city_row] = worked[PROVINCE].stats.figures("", NOVEMBER, by_next_level=True)
    assert city_row.division == CITY and city_row.counts == EXPECTED
    [county_row] = worked[CITY].stats.figures("", NOVEMBER, by_next_level=True)
    assert county_row.division == COUNTY
    [october] = worked[PROVINCE].stats.figures("", Period.parse("2026-10"))
    assert set(october.counts.values()) == {0}


def test_an_entry_delivered_twice_is_counted_once(worked: dict[str, Node]) -> None:
    """A batch sent again from the start (a lost acknowledgement, a parent restored from a
    backup of its cursors): the city applies every entry it holds already once more."""
    from node.domain.cursors import CursorSet

    county, city = worked[COUNTY], worked[CITY]
    out = county.replica.outgoing(city.settings.code, up=True, theirs=CursorSet([]), max_entries=500)
    assert any(e.kind == "case_delivered" for e in out.entries)
    city.replica.apply_batch(out.entries, out.heads)
    [total] = city.stats.figures(COUNTY, NOVEMBER)
    assert total.counts == EXPECTED
    assert city.stats.verify() == {}


def test_bad_stats_requests_are_refused(worked: dict[str, Node]) -> None:
    county = worked[COUNTY]
    with pytest.raises(InvalidInput, match="not in this node's subtree"):
        county.stats.figures(CITY, NOVEMBER)
    with pytest.raises(InvalidInput):
        Period.parse("2026-13")
    with pytest.raises(InvalidInput):
        county.stats.figures("5116", NOVEMBER)


def test_the_cli_shows_figures_by_division_and_as_json(worked: dict[str, Node]) -> None:
    home = worked[PROVINCE].settings.data_dir
    shown = cli_json(home, "stats", "--period", "2026-11", "--by")
    assert shown["rows"] == [{"division": CITY, **EXPECTED}]
    text = cli(home, "stats", "--period", "2026-11").stdout
    assert "办件量" in text and "超期办结" in text
    assert "2026-11-01" in text
    assert "一致" in cli(home, "stats", "verify").stdout
    bad = cli(home, "stats", "--period", "2026-11", "--from", "2026-11-01", expect=2)
    assert "--from" in bad.stderr


def test_indicators_follow_their_formulas_and_zero_case_items_are_listed(worked: dict[str, Node], clock: Clock) -> None:
    import datetime as dt

    from tests.conftest import licence_item
    from tests.test_custody import COUNTY_B

    county, province = worked[COUNTY], worked[PROVINCE]
    late = county.cases.file(FileRequest(ITEM, PERSON), "窗口-王").case_no  # filed 2026-11-20
    county.cases.act(late, Accept(), "窗口-王")  # due ten working days later: 2026-12-04
    settle(worked)
    values = {i.name: i.value for i in province.stats.indicators("", NOVEMBER, dt.date(2026, 12, 7))}
    assert values["办件量"] == 3 and values["受理量"] == 2 and values["办结量"] == 1
    assert values["办结率"] == 50.0 and values["按时办结率"] == 0.0
    assert values["超期件数"] == 1  # the open case, past 2026-12-04 on 2026-12-07
    assert values["网办率"] == 0.0 and values["代办量"] == 1 and values["通办量"] == 0
    assert values["满意率"] == 0.0 and values["差评率"] == 100.0
    october = {i.name: i.value for i in province.stats.indicators("", Period.parse("2026-10"), dt.date(2026, 10, 31))}
    assert october["办结率"] is None and october["满意率"] is None  # nothing to divide: no rate
    zero = province.stats.zero_case_items("", NOVEMBER)
    assert [code for code, _, _ in zero] == [licence_item(division=COUNTY_B, cross_region=True).implementation_code]
    assert county.stats.zero_case_items("", NOVEMBER) == []
