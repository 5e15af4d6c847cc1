"""Use cases on SQLite and PostgreSQL: catalog import, cases, calendars, audit; every refusal
is checked to have written nothing."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import text, update

from node.context import Node
from node.domain.calendar import make_calendar_year
from node.domain.errors import (
    CatalogRuleViolation,
    IllegalTransition,
    ImportRejected,
    InvalidInput,
    NotCustodian,
    NotFound,
)
from node.domain.lifecycle import (
    Accept,
    Decide,
    Deliver,
    Evaluate,
    Reject,
    RequestSupplement,
    Review,
    Status,
    Supplement,
    Suspend,
)
from node.services.cases import Applicant, FileRequest
from node.services.catalog_import import parse_catalog, read_catalog_file
from node.store.tables import CASES
from tests.conftest import CATALOG_CSV, Clock, licence_item, publish_calendar, uncovered_year
from tests.helpers import counts, stored_text

PERSON = Applicant("1", "王小明", "11010519491231002X", "13912345678", "广安区浓洄街道1号")


def seed(node: Node) -> str:
    result = node.catalog.import_items([licence_item()])
    assert result.published == 1
    return licence_item().implementation_code


def test_real_catalog_import_is_idempotent(any_node: Node) -> None:
    items = read_catalog_file(CATALOG_CSV)
    assert len(items) == 1135
    seen: list[int] = []
    result = any_node.catalog.import_items(items, lambda done, total: seen.append(done))
    assert (result.published, result.unchanged) == (1135, 0)
    assert seen[-1] == 1135 and len(seen) == 3
    assert len(result.warnings) == 4
    after = counts(any_node)
    assert after["catalog_items"] == 1135 and after["entries"] == 1135
    again = any_node.catalog.import_items(items)
    assert (again.published, again.unchanged) == (0, 1135)
    assert counts(any_node) == after
    licence = any_node.catalog.get("511A0138600000-511602000000-000-115113010833722043-1-00")
    assert licence.name == "教师资格认定" and licence.legal_limit_days == 20
    assert licence.limits_source == "statutory_default"


def test_malformed_import_rows_are_reported_by_line_and_write_nothing(any_node: Node) -> None:
    lines = CATALOG_CSV.read_text(encoding="utf-8").splitlines()
    fields = lines[10].split(",")
    fields[4] = "5116020000"  # line 11: a 10-digit area code
    lines[10] = ",".join(fields)
    lines[20] = lines[20].rsplit(",", 2)[0] + ",99,x"  # line 21: unknown power type
    before = counts(any_node)
    with pytest.raises(ImportRejected) as err:
        parse_catalog("bad.csv", "\n".join(lines))
    assert [line for line, _ in err.value.problems] == [11, 21]
    assert counts(any_node) == before


def test_an_item_outside_the_node_is_refused_and_nothing_is_written(any_node: Node) -> None:
    seed(any_node)
    before = counts(any_node)
    foreign = licence_item("3", division="511621000000")
    with pytest.raises(ImportRejected, match="outside this node"):
        any_node.catalog.import_items([licence_item("4"), foreign])
    assert counts(any_node) == before


def test_lower_tier_entry_may_not_change_the_province_standard(tmp_path: Path, clock: Clock, database_url: str) -> None:
    from node.store.catalog import item_row

    node = Node.init(tmp_path / "county", "511602000000", database_url=database_url, clock=clock)
    try:
        standard = licence_item("0", division="510000000000")
        with node.store.transaction() as tx:  # as replication will deliver the province's item
            tx.put_items([item_row(standard, "510000000000", 1)])
        before = counts(node)
        renamed = replace(licence_item("5"), name="教师资格证认定")
        with pytest.raises(ImportRejected, match="standard field"):
            node.catalog.import_items([renamed])
        assert counts(node) == before
        assert node.catalog.import_items([licence_item("5")]).published == 1
    finally:
        node.close()


def test_file_and_walk_a_case(any_node: Node, clock: Clock) -> None:
    code = seed(any_node)
    case = any_node.cases.file(FileRequest(code, PERSON), "window-3")
    assert case.status == Status.FILED and case.case_no.startswith("51160200000020260302")
    clock.now += dt.timedelta(hours=1)
    any_node.cases.act(case.case_no, Accept(("户口簿复印件",)), "window-3")
    view = any_node.cases.show(case.case_no)
    assert view.due_date == "2026-03-16" and view.level == "normal"  # 10 working days
    clock.set_local(2026, 3, 4)
    any_node.cases.act(case.case_no, RequestSupplement(("体检表",)), "window-3")
    clock.set_local(2026, 3, 9)
    any_node.cases.act(case.case_no, Supplement(("体检表", "户口簿复印件")), "window-3")
    assert any_node.cases.show(case.case_no).due_date == "2026-03-19"  # 3 stopped working days
    any_node.cases.act(case.case_no, Decide(True, result_ref="R-1"), "chief")
    any_node.cases.act(case.case_no, Deliver(), "window-3")
    final = any_node.cases.act(case.case_no, Evaluate(1), "window-3")
    assert final.status == Status.EVALUATED
    view = any_node.cases.show(case.case_no)
    assert [t.kind for t in view.timeline] == [
        "case_filed",
        "case_accepted",
        "case_supplement_requested",
        "case_supplemented",
        "case_decided",
        "case_delivered",
        "case_evaluated",
    ]
    assert view.level == "on_time" and view.used_days == 2  # Tue, Wed; Thu-Mon stopped
    assert any_node.cases.applicant(case.case_no) == PERSON
    assert all(r.fault is None for r in any_node.audit.verify())


def test_personal_data_is_stored_sealed_only(any_node: Node) -> None:
    code = seed(any_node)
    case = any_node.cases.file(FileRequest(code, PERSON), "w")
    any_node.cases.act(case.case_no, Accept(), "w")
    everything = stored_text(any_node)
    assert case.case_no in everything  # the search does see the stored data
    for secret in (PERSON.name, PERSON.id_number, PERSON.phone, PERSON.address, "13912345678"[3:]):
        assert secret not in everything


BAD_FILINGS = [
    (lambda c: FileRequest(c, replace(PERSON, id_number="11010519491231002Y")), InvalidInput),
    (lambda c: FileRequest(c, replace(PERSON, id_number="110105194912310")), InvalidInput),
    (lambda c: FileRequest(c, replace(PERSON, kind="2", id_number="91110000600037341N")), InvalidInput),
    (lambda c: FileRequest("511X-unknown", PERSON), NotFound),
    (lambda c: FileRequest(c, PERSON, channel="8"), InvalidInput),
    (lambda c: FileRequest(c, PERSON, agent="agent-1", consent=False), InvalidInput),
    (lambda c: FileRequest(c, replace(PERSON, phone="call me")), InvalidInput),
    (lambda c: FileRequest(c, replace(PERSON, name=" ")), InvalidInput),
]


@pytest.mark.parametrize(("make", "error"), BAD_FILINGS)
def test_bad_filings_write_nothing(any_node: Node, make, error) -> None:  # type: ignore[no-untyped-def]
    code = seed(any_node)
    good = FileRequest(code, PERSON)
    before = counts(any_node)
    with pytest.raises(error) as err:
        any_node.cases.file_many([good, make(code)], "w")
    assert PERSON.id_number not in str(err.value)
    assert counts(any_node) == before


def test_errand_on_an_item_closed_to_agents_is_refused(any_node: Node) -> None:
    any_node.catalog.import_items([licence_item("6", agent_allowed=False)])
    before = counts(any_node)
    with pytest.raises(InvalidInput, match="errands"):
        any_node.cases.file(FileRequest(licence_item("6").implementation_code, PERSON, agent="a", consent=True), "a")
    assert counts(any_node) == before


def test_illegal_transitions_and_unknown_cases_write_nothing(any_node: Node) -> None:
    code = seed(any_node)
    case = any_node.cases.file(FileRequest(code, PERSON), "w")
    before = counts(any_node)
    with pytest.raises(IllegalTransition, match="allowed now: accept, reject, withdraw"):
        any_node.cases.act(case.case_no, Deliver(), "w")
    with pytest.raises(NotFound):
        any_node.cases.act("511602000000202603029999", Accept(), "w")
    with pytest.raises(InvalidInput):
        any_node.cases.act(case.case_no, Reject(""), "w")
    assert counts(any_node) == before
    assert any_node.cases.get(case.case_no).status == Status.FILED


def test_a_batch_with_one_bad_command_writes_nothing(any_node: Node) -> None:
    code = seed(any_node)
    cases = any_node.cases.file_many([FileRequest(code, PERSON)] * 3, "w")
    before = counts(any_node)
    batch = [(c.case_no, Accept()) for c in cases] + [(cases[0].case_no, Deliver())]
    with pytest.raises(IllegalTransition):
        any_node.cases.act_many(batch, "w")
    assert counts(any_node) == before
    done = any_node.cases.act_many([(c.case_no, Accept()) for c in cases] + [(cases[0].case_no, Review())], "w")
    assert [s.status for s in done] == [Status.ACCEPTED] * 3 + [Status.UNDER_REVIEW]
    assert [c.case_no[-6:] for c in cases] == ["000001", "000002", "000003"]


def test_only_the_custodian_changes_a_case(any_node: Node) -> None:
    code = seed(any_node)
    case = any_node.cases.file(FileRequest(code, PERSON), "w")
    with any_node.store.transaction() as tx:  # as a custody move (a later issue) would leave it
        tx.conn.execute(update(CASES).where(CASES.c.case_no == case.case_no).values(custodian="511621000000"))
    before = counts(any_node)
    with pytest.raises(NotCustodian, match="511621000000"):
        any_node.cases.act(case.case_no, Accept(), "w")
    assert counts(any_node) == before


def test_provisional_due_date_becomes_final_after_publish(governed: tuple[Node, Node], clock: Clock) -> None:
    """With chinese-calendar 1.11.0 this is the 2027 case: accepted 2026-12-21, due 2027-01-04
    (provisional); 2027-01-01 published by the province as a holiday makes it 2027-01-05, final
    at the county."""
    province, any_node = governed
    year_u = uncovered_year()
    code = seed(any_node)
    clock.set_local(year_u - 1, 12, 21)
    case = any_node.cases.file(FileRequest(code, PERSON), "w")
    any_node.cases.act(case.case_no, Accept(), "w")
    view = any_node.cases.show(case.case_no)
    provisional_due = dt.date.fromisoformat(view.due_date)
    assert view.due_provisional and provisional_due.year == year_u
    if year_u == 2027:
        assert view.due_date == "2027-01-04"
    listed = any_node.cases.list(open_only=True)
    assert [(v.state.case_no, v.due_provisional) for v in listed] == [(case.case_no, True)]
    holidays = [f"{year_u}-01-01", provisional_due.isoformat()]
    year = make_calendar_year(year_u, holidays, [], "test notice")
    before = counts(any_node)
    received = publish_calendar(province, any_node, year)
    assert received > 0 and counts(any_node)["entries"] == before["entries"] + received
    with any_node.store.read() as tx:
        assert tx.calendars()[year_u] == year
    view = any_node.cases.show(case.case_no)
    assert not view.due_provisional and dt.date.fromisoformat(view.due_date) > provisional_due
    if year_u == 2027:
        assert view.due_date == "2027-01-06"  # 01-01 and 01-04 are holidays now
    clock.set_local(year_u - 1, 12, 22)
    any_node.cases.act(case.case_no, Suspend("testing", 3, "检测"), "w")
    assert any_node.cases.show(case.case_no).level.endswith("(clock stopped)")


def test_audit_points_at_the_first_tampered_entry(any_node: Node) -> None:
    code = seed(any_node)
    cases = any_node.cases.file_many([FileRequest(code, PERSON)] * 5, "w")
    any_node.cases.act_many([(c.case_no, Accept()) for c in cases], "w")
    assert all(r.fault is None for r in any_node.audit.verify())
    with any_node.store.transaction() as tx:
        tx.conn.execute(text("UPDATE entries SET body = :b WHERE stream = 'case' AND seq IN (4, 7)"), {"b": b"forged"})
    faults = [r.fault for r in any_node.audit.verify() if r.fault]
    assert len(faults) == 1 and (faults[0].stream, faults[0].seq) == ("case", 4)
    assert "content" in faults[0].reason


def test_audit_detects_a_forged_head_signature(any_node: Node) -> None:
    code = seed(any_node)
    any_node.cases.file(FileRequest(code, PERSON), "w")
    with any_node.store.transaction() as tx:
        tx.conn.execute(text("UPDATE heads SET signed_at_us = signed_at_us + 1 WHERE stream = 'case'"))
    (fault,) = [r.fault for r in any_node.audit.verify() if r.fault]
    assert fault.seq == 1 and "signature" in fault.reason


def test_catalog_rule_promised_over_legal_via_parse(any_node: Node) -> None:
    header = (
        "basic_code,implementation_code,name,power_type,department,division_code,legal_limit_days,promised_limit_days\n"
    )
    row = "B1,B1-511602000000-1,某审批,01,区局,511602000000,20,25\n"
    before = counts(any_node)
    with pytest.raises(ImportRejected) as err:
        parse_catalog("items.csv", header + row)
    assert err.value.problems[0][0] == 2 and "exceeds the legal limit" in err.value.problems[0][1]
    assert counts(any_node) == before
    with pytest.raises(CatalogRuleViolation):
        from node.domain.catalog import validate_item

        validate_item(licence_item(promised=30))


def test_a_catalog_change_by_another_process_reaches_the_filing_cache(
    tmp_path: Path, clock: Clock, database_url: str
) -> None:
    first = Node.init(tmp_path / "n", "511602000000", database_url=database_url, clock=clock)
    try:
        first.catalog.import_items([licence_item("7", agent_allowed=False)])
        code = licence_item("7").implementation_code
        errand = FileRequest(code, PERSON, agent="agent-1", consent=True)
        with pytest.raises(InvalidInput, match="errands"):
            first.cases.file(errand, "a")  # the item is now in first's cache
        second = Node.open(tmp_path / "n", clock=clock)  # another process on the same database
        try:
            second.catalog.import_items([licence_item("7", agent_allowed=True)])
        finally:
            second.close()
        assert first.cases.file(errand, "a").agent == "agent-1"
    finally:
        first.close()
