"""Custody of cases across nodes, in-process on real stores: a village errand offered to the
competent county at filing, taken, handled and decided there, handed back with the result and
delivered and evaluated at the village; escalation to the city; a declined offer; a cross-region
case. Every node's case row follows the same entries in version order, whatever path they took;
the applicant's bundle moves re-sealed and never reaches an upper tier in the clear."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from federation.wire.keys import NodeKey
from node.context import Node
from node.domain.divisions import DivisionCode as D
from node.domain.errors import IllegalTransition, InvalidInput, NotCustodian, NotFound, StateConflict
from node.domain.lifecycle import (
    Accept,
    AcceptCustody,
    Decide,
    DeclineCustody,
    Deliver,
    Evaluate,
    OfferCustody,
    Review,
    Status,
    WithdrawOffer,
)
from node.services.cases import Applicant, FileRequest
from node.store.catalog import item_row
from tests.conftest import Clock, licence_item
from tests.helpers import counts, stored_text
from tests.test_mail import relay
from tests.test_replica import enroll, province_node, push_down, push_up

PROVINCE, CITY = "510000000000", "511600000000"
COUNTY, TOWNSHIP, VILLAGE = "511602000000", "511602001000", "511602001001"
COUNTY_B, TOWNSHIP_B, VILLAGE_B = "511621000000", "511621101000", "511621101002"
PERSON = Applicant("1", "王大妈", "440524188001010014", "13566667777", "协兴镇某村3组")


# the tests that move sealed data and licences run on both suites a province may choose (issue
# 15); the rest on P-256, to keep the suite's time
BOTH_SUITES = pytest.mark.parametrize("nodes", ["p256-sha256", "sm2-sm3"], indirect=True, ids=["p256", "sm2"])


@pytest.fixture
def nodes(request: pytest.FixtureRequest, tmp_path: Path, clock: Clock) -> Iterator[dict[str, Node]]:
    """Sichuan's two branches, on the suite a test asks for (P-256 unless it says)."""
    suite = getattr(request, "param", "p256-sha256")
    made = {PROVINCE: province_node(tmp_path / PROVINCE, PROVINCE, clock, key=NodeKey.generate(suite))}
    for code in (CITY, COUNTY, TOWNSHIP, VILLAGE, COUNTY_B, TOWNSHIP_B, VILLAGE_B):
        parent = D(code).parent()
        assert parent is not None
        made[code] = enroll(made[parent.code], code, tmp_path, clock)
    made[COUNTY].catalog.import_items([licence_item()])
    made[COUNTY_B].catalog.import_items([licence_item(division=COUNTY_B, cross_region=True)])
    settle(made)
    yield made
    for n in made.values():
        n.close()


def settle(nodes: dict[str, Node]) -> None:
    """Replicate up and down every link and hand on addressed entries until nothing moves."""
    for _ in range(20):
        moved = len(relay(nodes))
        for code, node in nodes.items():
            parent = D(code).parent()
            if parent is not None:
                moved += push_up(node, nodes[parent.code]) + push_down(nodes[parent.code], node)
        if not moved:
            return
    raise AssertionError("the federation did not settle")


ITEM = licence_item().implementation_code


def errand(village: Node, item: str = ITEM) -> str:
    return village.cases.file(FileRequest(item, PERSON, agent="agent-07", consent=True), "agent-07").case_no


def state(node: Node, case_no: str) -> tuple[str, str, str, int]:
    s = node.cases.get(case_no)
    return (s.status.value, s.custodian, s.offered_to, s.version)


@BOTH_SUITES
def test_a_village_errand_is_handled_at_the_county_and_delivered_back_at_the_village(
    nodes: dict[str, Node],
) -> None:
    village, county, province = nodes[VILLAGE], nodes[COUNTY], nodes[PROVINCE]
    case_no = errand(village)
    assert state(village, case_no) == ("filed", VILLAGE, COUNTY, 2)  # offered to the competent node at once
    settle(nodes)
    assert state(county, case_no) == ("filed", VILLAGE, COUNTY, 2)
    county.cases.act(case_no, AcceptCustody(COUNTY), "window-3")
    settle(nodes)
    # the village handed the applicant's bundle over, re-sealed for the county
    assert county.cases.applicant(case_no).name == PERSON.name
    for cmd in (Accept(), Review(), Decide(True, result_ref="教资-2026-001")):
        county.cases.act(case_no, cmd, "window-3")
    county.cases.act(case_no, OfferCustody(VILLAGE, "result"), "window-3")
    settle(nodes)
    assert state(village, case_no) == ("approved", COUNTY, VILLAGE, 7)
    village.cases.act(case_no, AcceptCustody(VILLAGE), "agent-07")
    village.cases.act(case_no, Deliver(), "agent-07")
    village.cases.act(case_no, Evaluate(1), "agent-07")
    settle(nodes)
    for code in (VILLAGE, TOWNSHIP, COUNTY, CITY, PROVINCE):
        assert state(nodes[code], case_no) == ("evaluated", VILLAGE, "", 10), code
    # the filing village holds the whole timeline, both writers
    writers = [(step.kind, step.writer) for step in village.cases.show(case_no).timeline]
    assert ("case_accepted", COUNTY) in writers and ("case_delivered", VILLAGE) in writers
    assert len(writers) == 10
    # nothing readable of the applicant above the processing county
    for code in (CITY, PROVINCE):
        text = stored_text(nodes[code])
        for secret in (PERSON.name, PERSON.id_number, PERSON.phone):
            assert secret not in text, code
    assert province.cases.get(case_no).status == Status.EVALUATED


def test_nobody_changes_a_case_while_an_offer_is_open_and_only_the_custodian_writes(nodes: dict[str, Node]) -> None:
    village, county = nodes[VILLAGE], nodes[COUNTY]
    case_no = errand(village)
    settle(nodes)
    for node, cmd, error in (
        (village, Accept(), IllegalTransition),  # the village's own offer is open
        (county, Accept(), NotCustodian),  # not the county's case yet
        (nodes[CITY], AcceptCustody(CITY), NotCustodian),  # offered to the county, not the city
    ):
        before = counts(node)
        with pytest.raises(error):
            node.cases.act(case_no, cmd, "x")
        assert counts(node) == before


def test_a_declined_offer_returns_the_case_to_the_village(nodes: dict[str, Node]) -> None:
    village, county = nodes[VILLAGE], nodes[COUNTY]
    case_no = errand(village)
    settle(nodes)
    county.cases.act(case_no, DeclineCustody(COUNTY, "材料应先经乡镇初审"), "window-3")
    settle(nodes)
    assert state(village, case_no) == ("filed", VILLAGE, "", 3)
    village.cases.act(case_no, OfferCustody(COUNTY, "process", "已初审"), "agent-07")  # it may offer again
    settle(nodes)
    assert state(county, case_no) == ("filed", VILLAGE, COUNTY, 4)


@BOTH_SUITES
def test_escalation_from_county_to_city_moves_the_bundle_re_sealed(nodes: dict[str, Node]) -> None:
    village, county, city = nodes[VILLAGE], nodes[COUNTY], nodes[CITY]
    case_no = errand(village)
    settle(nodes)
    county.cases.act(case_no, AcceptCustody(COUNTY), "w")
    county.cases.act(case_no, Accept(), "w")
    county.cases.act(case_no, OfferCustody(CITY, "escalate", "需市级审批"), "w")
    settle(nodes)
    city.cases.act(case_no, AcceptCustody(CITY), "c")
    settle(nodes)
    assert city.cases.applicant(case_no).id_number == PERSON.id_number
    city.cases.act(case_no, Decide(False, "不符合条件"), "c")
    settle(nodes)
    # filed, offered, taken, accepted, offered up, taken by the city, denied
    assert state(village, case_no) == ("denied", CITY, "", 7)
    assert state(nodes[PROVINCE], case_no) == ("denied", CITY, "", 7)


def test_a_cross_region_item_is_filed_in_one_county_and_handled_in_another(nodes: dict[str, Node]) -> None:
    village, county_b = nodes[VILLAGE], nodes[COUNTY_B]
    item_b = licence_item(division=COUNTY_B).implementation_code
    case_no = errand(village, item_b)
    settle(nodes)
    assert state(county_b, case_no) == ("filed", VILLAGE, COUNTY_B, 2)  # a case it never saw, from the offer
    county_b.cases.act(case_no, AcceptCustody(COUNTY_B), "b")
    settle(nodes)
    assert county_b.cases.applicant(case_no).phone == PERSON.phone
    county_b.cases.act(case_no, Accept(), "b")
    county_b.cases.act(case_no, Decide(True), "b")
    county_b.cases.act(case_no, OfferCustody(VILLAGE, "result"), "b")
    settle(nodes)
    village.cases.act(case_no, AcceptCustody(VILLAGE), "agent-07")
    village.cases.act(case_no, Deliver(), "agent-07")
    settle(nodes)
    for code in (VILLAGE, COUNTY_B, CITY, PROVINCE):
        assert state(nodes[code], case_no)[:2] == ("delivered", VILLAGE), code


def test_an_item_that_is_not_cross_region_is_filed_only_in_its_own_area(nodes: dict[str, Node]) -> None:
    village_b = nodes[VILLAGE_B]
    before = counts(village_b)
    with pytest.raises(NotFound):
        errand(village_b)  # county 511602's item is not even in the catalog under county 511621
    with village_b.store.transaction() as tx:  # as if it were (an item imported by hand)
        tx.put_items([item_row(licence_item(), COUNTY, 1)])
    before = counts(village_b)
    with pytest.raises(InvalidInput, match="not cross-region"):
        errand(village_b)
    assert counts(village_b) == before


def test_an_entry_from_a_non_custodian_changes_nothing_where_it_arrives_and_wedges_nothing(
    nodes: dict[str, Node],
) -> None:
    """County B writes a change of village A's case behind the service's back (a rogue node):
    the city keeps it in county B's chain (a chain cannot skip an entry) without effect and
    raises an alarm; county B's later entries still arrive."""
    from federation.wire.codec_cases import case_entry
    from node.domain.entries import Stream
    from node.journal import Record

    village, county_b, city = nodes[VILLAGE], nodes[COUNTY_B], nodes[CITY]
    case_no = errand(village)
    settle(nodes)
    offered = city.cases.get(case_no)
    assert offered.offered_to == COUNTY
    forged = offered._replace(custodian=COUNTY_B, offered_to="", version=offered.version + 1)
    kind, body = case_entry(AcceptCustody(COUNTY), forged, offered.filed_at, "rogue", COUNTY_B)
    with county_b.store.transaction() as tx:
        county_b.journal.append(tx, Stream.CASE, [Record(kind, case_no, body)], 1)
    own = county_b.cases.file(
        FileRequest(licence_item(division=COUNTY_B, cross_region=True).implementation_code, PERSON), "w"
    )
    push_up(county_b, city)
    assert city.cases.get(case_no) == offered  # unchanged
    assert city.cases.get(own.case_no).status == Status.FILED  # the entry behind it arrived
    with city.store.read() as tx:
        alarms = [a for a in tx.alarms() if a.kind == "EntryRefused" and a.peer == COUNTY_B]
    assert len(alarms) == 1 and "case rule broken" in alarms[0].detail and "custody" in alarms[0].detail


def test_the_filing_node_shows_who_held_the_case_and_for_how_long(nodes: dict[str, Node], clock: Clock) -> None:
    village, county = nodes[VILLAGE], nodes[COUNTY]
    clock.set_local(2026, 3, 2)  # Monday
    case_no = errand(village)
    settle(nodes)
    clock.set_local(2026, 3, 4)  # Wednesday: the county takes it
    county.cases.act(case_no, AcceptCustody(COUNTY), "w")
    county.cases.act(case_no, Accept(), "w")
    county.cases.act(case_no, Decide(True), "w")
    clock.set_local(2026, 3, 10)  # next Tuesday: back to the village
    county.cases.act(case_no, OfferCustody(VILLAGE, "result"), "w")
    settle(nodes)
    village.cases.act(case_no, AcceptCustody(VILLAGE), "a")
    clock.set_local(2026, 3, 11)
    village.cases.act(case_no, Deliver(), "a")
    spans = [(c.node, c.working_days) for c in village.cases.show(case_no).custody]
    assert spans == [(VILLAGE, 2), (COUNTY, 4), (VILLAGE, 1)]  # Tue-Wed; Thu-Fri, Mon-Tue; Wed


def test_a_bundle_altered_on_the_way_is_refused_by_its_addressee(nodes: dict[str, Node]) -> None:
    from federation.wire.codec import addressed_from_wire
    from node.domain.errors import BadSignature

    village, county = nodes[VILLAGE], nodes[COUNTY]
    case_no = errand(village)
    settle(nodes)
    county.cases.act(case_no, AcceptCustody(COUNTY), "w")
    settle(nodes)  # the village answered the acceptance with the bundle, re-sealed for the county
    with county.store.transaction() as tx:
        (row,) = tx.addressed_rows(kind="bundle_sent")
        tx.conn.exec_driver_sql("DELETE FROM addressed WHERE kind = 'bundle_sent'")  # as if not arrived yet
    copy = addressed_from_wire(bytes(row.wire))
    flipped = copy.sealed_bundle[:-1] + bytes([copy.sealed_bundle[-1] ^ 1])
    before = counts(county)
    with pytest.raises(BadSignature, match="sealed bundle"):
        county.mail.receive([copy._replace(sealed_bundle=flipped)], TOWNSHIP)
    assert counts(county) == before


@BOTH_SUITES
def test_a_licence_issued_at_the_county_is_verified_anywhere_and_cited_in_a_later_case(
    nodes: dict[str, Node],
) -> None:
    from yiwang.v1 import case_pb2

    from node.domain.errors import BadSignature

    village, county = nodes[VILLAGE], nodes[COUNTY]
    case_no = errand(village)
    settle(nodes)
    county.cases.act(case_no, AcceptCustody(COUNTY), "w")
    settle(nodes)
    county.cases.act(case_no, Accept(), "w")
    state, lic = county.licenses.approve_with_license(case_no, "w")
    assert state.status == Status.APPROVED and lic.holder_id == PERSON.id_number
    settle(nodes)
    # the filing village holds the signed licence; the decision's entry names only its number
    signed = village.licenses.signed(lic.license_no)
    assert [h.license_no for h in village.licenses.held()] == [lic.license_no]
    # verified offline by a node in another county, which never saw the case
    assert nodes[COUNTY_B].licenses.verify(signed).holder_name == PERSON.name
    forged = case_pb2.SignedLicense.FromString(signed)
    forged.license = forged.license.replace(PERSON.name.encode(), "李四四".encode())  # another holder
    with pytest.raises(BadSignature):
        nodes[COUNTY_B].licenses.verify(forged.SerializeToString())
    # cited in a later case of the same resident instead of a new upload
    later = village.cases.file(FileRequest(ITEM, PERSON, licenses=(signed,)), "agent-07")
    filed = [s for s in village.cases.show(later.case_no).timeline if s.kind == "case_filed"]
    assert filed[0].detail["cited_licenses"] == [lic.license_no]
    # nobody cites another resident's licence, and the refusal writes nothing
    other = Applicant("1", "李四", "11010519491231002X")
    before = counts(village)
    with pytest.raises(InvalidInput, match="not the applicant's"):
        village.cases.file(FileRequest(ITEM, other, licenses=(signed,)), "agent-07")
    assert counts(village) == before
    for code in (CITY, PROVINCE, TOWNSHIP):
        assert PERSON.name not in stored_text(nodes[code]), code
    # at rest the licence is sealed too, at the issuing and the filing node (issue 10)
    for node in (county, village):
        with node.store.read() as tx:
            stored = b"".join(bytes(r[0]) for r in tx.conn.execute(text("select signed from licenses")))
        assert stored and PERSON.name.encode() not in stored and PERSON.id_number.encode() not in stored
    assert county.licenses.signed(lic.license_no) == signed  # and read back (exported) unchanged


@BOTH_SUITES
def test_material_files_move_to_the_new_custodian_in_chunks_and_resume_after_a_break(
    nodes: dict[str, Node],
) -> None:
    import os

    from federation.wire.codec import addressed_from_wire

    village, township, county = nodes[VILLAGE], nodes[TOWNSHIP], nodes[COUNTY]
    scan = os.urandom(600 * 1024)  # three chunks of at most 256 KiB
    photo = os.urandom(1000)
    request = FileRequest(ITEM, PERSON, agent="agent-07", consent=True, files=(("身份证", scan), ("照片", photo)))
    case_no = village.cases.file(request, "agent-07").case_no
    settle(nodes)
    county.cases.act(case_no, AcceptCustody(COUNTY), "w")
    for frm, to in ((COUNTY, TOWNSHIP), (TOWNSHIP, VILLAGE), (VILLAGE, TOWNSHIP)):  # one hop at a time
        out = nodes[frm].mail.outbox(to)
        nodes[frm].mail.forwarded(to, nodes[to].mail.receive([addressed_from_wire(w) for _, w in out], frm))
    # the village answered the acceptance with the bundle and the files' chunks; the link to the
    # county breaks after the bundle and the first chunk got there: the rest wait in the township's outbox
    with township.store.read() as tx:
        waiting = [addressed_from_wire(w) for _, w in tx.outbox(COUNTY, 100)]
    chunks = [a for a in waiting if a.entry.kind == "material_chunk"]
    assert len(chunks) == 3 + 1  # the scan in three, the photo in one
    bundle = [a for a in waiting if a.entry.kind == "bundle_sent"]
    county.mail.receive([*bundle, chunks[0]], TOWNSHIP)
    assert [held for _, held in county.cases.materials(case_no)] == [False, False]
    settle(nodes)  # the link is back: the rest arrives, the first chunk is not needed again
    assert [(r.name, held) for r, held in county.cases.materials(case_no)] == [("身份证", True), ("照片", True)]
    assert county.cases.material(case_no, "身份证") == scan
    assert county.cases.material(case_no, "照片") == photo
    # only ciphertext on the way: the relay holds no plain bytes of the scan
    with township.store.read() as tx:
        assert scan[:64] not in b"".join(bytes(r.wire) for r in tx.addressed_rows(limit=100))


def test_material_files_are_bounded_and_a_refused_filing_writes_nothing(nodes: dict[str, Node]) -> None:
    from node.domain.materials import MAX_FILE_BYTES

    village = nodes[VILLAGE]
    before = counts(village)
    for files, reason in (
        ((("身份证", b"x" * (MAX_FILE_BYTES + 1)),), "at most"),
        ((("身份证", b""),), "empty"),
        ((("身份证", b"a"), ("身份证", b"b")), "twice"),
        (((" ", b"a"),), "name"),
    ):
        with pytest.raises(InvalidInput, match=reason):
            village.cases.file(FileRequest(ITEM, PERSON, agent="a", consent=True, files=files), "a")
    assert counts(village) == before


def test_a_case_rerouted_mid_review_arrives_with_its_whole_state(nodes: dict[str, Node]) -> None:
    from node.domain.lifecycle import RequestSupplement

    village, county, county_b = nodes[VILLAGE], nodes[COUNTY], nodes[COUNTY_B]
    case_no = errand(village)
    settle(nodes)
    county.cases.act(case_no, AcceptCustody(COUNTY), "w")
    county.cases.act(case_no, Accept(("体检表",)), "w")  # 容缺受理
    county.cases.act(case_no, Review(), "w")
    county.cases.act(case_no, RequestSupplement(("户口簿复印件",), "不清晰"), "w")  # the clock stops
    county.cases.act(case_no, OfferCustody(COUNTY_B, "reroute", "属地管辖"), "w")
    settle(nodes)
    there, here = county_b.cases.get(case_no), county.cases.get(case_no)
    assert there == here  # a node that never saw the case holds all of it: stops, materials, times
    assert there.status == Status.AWAITING_SUPPLEMENT and there.stops and there.missing_materials == ("体检表",)


def test_an_offer_unanswered_by_its_date_is_withdrawn_by_the_offering_node(
    nodes: dict[str, Node], clock: Clock
) -> None:
    """Answer and withdrawal windows do not overlap: the county may take the offer up to its
    answer date (five working days), the village may withdraw it only after that day."""
    village, county = nodes[VILLAGE], nodes[COUNTY]
    case_no = errand(village)  # Monday 2026-03-02: to be answered by Monday 2026-03-09
    settle(nodes)
    timeline = village.cases.show(case_no).timeline
    assert any(step.kind == "case_custody_offered" for step in timeline)
    before = counts(village)
    with pytest.raises(StateConflict, match="until 2026-03-09"):
        village.cases.act(case_no, WithdrawOffer(COUNTY, "逾期未答复"), "agent-07")
    assert counts(village) == before
    clock.set_local(2026, 3, 10)
    before = counts(county)
    for cmd in (AcceptCustody(COUNTY), DeclineCustody(COUNTY, "晚了")):
        with pytest.raises(StateConflict, match="answered by 2026-03-09"):
            county.cases.act(case_no, cmd, "window-3")
    assert counts(county) == before
    village.cases.act(case_no, WithdrawOffer(COUNTY, "逾期未答复"), "agent-07")
    assert state(village, case_no) == ("filed", VILLAGE, "", 3)
    settle(nodes)
    for code in (COUNTY, CITY, PROVINCE):  # the county learns it from an addressed copy
        assert state(nodes[code], case_no) == ("filed", VILLAGE, "", 3), code
    with pytest.raises(NotCustodian, match=f"custody of {VILLAGE}"):
        county.cases.act(case_no, AcceptCustody(COUNTY), "window-3")
    village.cases.act(case_no, OfferCustody(COUNTY, "process", "再次提交"), "agent-07")  # offered again
    settle(nodes)
    county.cases.act(case_no, AcceptCustody(COUNTY), "window-3")  # within the new offer's window
    settle(nodes)
    assert state(village, case_no) == ("filed", COUNTY, "", 5)


def test_an_offer_whose_copy_was_refused_on_the_way_is_withdrawn_at_once(nodes: dict[str, Node]) -> None:
    """At once only when the node it named cannot have seen the offer: an ancestor reads it in
    the offering node's own stream, whatever became of the copy."""
    county, village = nodes[COUNTY], nodes[VILLAGE]
    case_no = county.cases.file(FileRequest(ITEM, PERSON), "w").case_no
    county.cases.act(case_no, OfferCustody(COUNTY_B, "reroute", "属地管辖"), "w")
    [(key, _)] = county.mail.outbox(CITY)
    county.mail.refused(CITY, [(key, "BadSignature: the origin's signature does not verify")])
    assert [r.subject for r in county.mail.dead_letters()] == [case_no]
    county.cases.act(case_no, WithdrawOffer(COUNTY_B, "送达失败"), "w")  # no need to wait
    assert state(county, case_no) == ("filed", COUNTY, "", 3)

    errand_no = errand(village)  # offered to the county, an ancestor of the village
    [(key, _)] = village.mail.outbox(TOWNSHIP)
    village.mail.refused(TOWNSHIP, [(key, "BadSignature: the origin's signature does not verify")])
    before = counts(village)
    with pytest.raises(StateConflict, match="may answer the offer until"):
        village.cases.act(errand_no, WithdrawOffer(COUNTY, "送达失败"), "agent-07")
    assert counts(village) == before
    settle(nodes)
    county.cases.act(errand_no, AcceptCustody(COUNTY), "window-3")  # it saw the offer in the stream
    settle(nodes)
    assert state(village, errand_no)[1] == COUNTY
