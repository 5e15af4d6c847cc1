"""A real five-tier chain from the Sichuan data, enrolled with the CLI only, as separate
processes on 127.0.0.1; and attacks against its running nodes. Each attack is refused with its
specific error and leaves the receiver's database unchanged (alarms aside)."""

from __future__ import annotations

import datetime as dt
import functools
import os
import queue
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from yiwang.v1 import federation_pb2, federation_pb2_grpc

from federation.transport.enrollment import enroll_with_parent
from federation.transport.link import GRPC_OPTIONS, hello
from federation.transport.tls import channel_credentials
from federation.wire.certs import _build, _name, certified_key, code_of, dns_name, make_csr, make_root
from federation.wire.envelopes import LinkSession
from federation.wire.identity import Identity
from federation.wire.keys import NodeKey
from node.app.bus import free_port
from node.domain.divisions import DivisionCode as D
from node.domain.errors import SetupError
from node.services.enrollment import Token
from tests.fedtools import (
    ANY_PORTS,
    Running,
    alarms,
    bus_account,
    case_field,
    cli,
    cli_json,
    db_counts,
    portal_item,
    settled_counts,
    start_chain,
    wait_for,
)

CHAIN = ["510000000000", "511600000000", "511602000000", "511602001000", "511602001001"]
NAMES = ["province", "city", "county", "township", "village"]


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[Path, Running]]]:
    base = tmp_path_factory.mktemp("federation")
    nodes: dict[str, tuple[Path, Running]] = {}
    try:
        start_chain(base, list(zip(NAMES, CHAIN, strict=True)), nodes)
        yield nodes
    finally:
        for _, running in reversed(list(nodes.values())):
            running.stop()


def _received(home: Path) -> list[dict[str, Any]]:
    return [n for n in cli_json(home, "notice", "list") if n["state"] == "received"]


def _links(home: Path) -> dict[str, str]:
    return {p["code"]: p["state"] for p in cli_json(home, "status")["peers"]}


def test_every_link_of_the_five_tier_chain_reports_healthy(federation: dict[str, tuple[Path, Running]]) -> None:
    for i, name in enumerate(NAMES):
        home, running = federation[name]
        expected = {}
        if i > 0:
            expected[CHAIN[i - 1]] = "connected"
        if i < len(CHAIN) - 1:
            expected[CHAIN[i + 1]] = "connected"
        wait_for(lambda h=home, e=expected: _links(h) == e, 30, f"{name}'s links")  # type: ignore[misc]
        status = cli_json(home, "status")
        assert status["running"] and status["certificate"]["days_left"] >= 364
        with grpc.insecure_channel(running.ports["api"]) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    # every certificate was recorded by its issuer as a public entry, and every log verifies
    for name in NAMES:
        assert cli_json(federation[name][0], "audit", "verify")["ok"]


def _count(home: Path, sql: str, *args: str) -> int:
    with sqlite3.connect(home / "yiwang.db") as conn:
        value: int = conn.execute(sql, args).fetchone()[0]
        return value


def _bus_subjects(url: str, filter_subject: str, account: dict[str, str]) -> list[str]:
    import asyncio

    import nats

    async def read() -> list[str]:
        nc = await nats.connect(url, **account)
        try:
            js = nc.jetstream()
            sub = await js.subscribe(filter_subject, ordered_consumer=True)
            subjects = []
            try:
                while True:
                    msg = await sub.next_msg(timeout=1)
                    subjects.append(msg.subject)
            except nats.errors.TimeoutError:
                return subjects
        finally:
            await nc.close()

    return asyncio.run(read())


def test_entries_flow_up_and_down_the_running_chain(
    federation: dict[str, tuple[Path, Running]], tmp_path: Path
) -> None:
    import json as json_

    village, province = federation["village"][0], federation["province"][0]
    (tmp_path / "v.json").write_text(json_.dumps([portal_item(CHAIN[4])]), encoding="utf-8")
    cli(village, "catalog", "import", str(tmp_path / "v.json"))
    case_no = cli_json(
        village,
        "case",
        "file",
        "--item",
        f"511A0138600000-{CHAIN[4]}-000-1",
        "--name",
        "某人",
        "--id",
        "11010519491231002X",
    )["case_no"]
    wait_for(
        lambda: _count(province, "select count(*) from cases where case_no = ?", case_no),
        60,
        "the village's case at the province",
    )
    assert _count(province, "select count(*) from entries where origin = ? and stream = 'case'", CHAIN[4]) == 1
    # the province's own bus carries the village's entry, under the village's subject
    nats_url = federation["province"][1].ports["nats"]
    account = bus_account(federation["province"][0])
    subjects = wait_for(lambda: _bus_subjects(nats_url, f"yiwang.{CHAIN[4]}.case.>", account), 30, "the bus")
    assert subjects == [f"yiwang.{CHAIN[4]}.case.case_filed"]
    assert "nats" not in federation["village"][1].ports  # the village profile runs without NATS
    (tmp_path / "p.json").write_text(json_.dumps([portal_item(CHAIN[0])]), encoding="utf-8")
    cli(province, "catalog", "import", str(tmp_path / "p.json"))
    wait_for(
        lambda: _count(village, "select count(*) from catalog_items where division_code = ?", CHAIN[0]),
        60,
        "the province's item at the village",
    )
    for name in NAMES:
        assert cli_json(federation[name][0], "audit", "verify")["ok"], name


# --- attacks -----------------------------------------------------------------------------


def _key_of(home: Path) -> NodeKey:
    return NodeKey.load(home / "node.key")


def _chain_of(home: Path) -> list:  # type: ignore[type-arg]
    from federation.wire.certs import from_pem

    return from_pem((home / "chain.pem").read_bytes())


def _enrolled_child(federation: dict[str, tuple[Path, Running]], code: str) -> Identity:
    """A genuine child of the township, enrolled over the real enrollment port."""
    home, _ = federation["township"]
    token = Token.decode(cli_json(home, "enroll", "token", "--child", code)["token"])
    key = NodeKey.generate()
    chain, key = enroll_with_parent("127.0.0.1", token, D(code), key, dt.datetime.now(dt.UTC))
    return Identity(key, tuple(chain))


class RawLink:
    """A link to a running parent, driven envelope by envelope from the test."""

    def __init__(self, address: str, identity: Identity, parent: str) -> None:
        options = [
            *GRPC_OPTIONS,
            ("grpc.ssl_target_name_override", dns_name(parent)),
            ("grpc.max_send_message_length", 200 * 1024 * 1024),
        ]
        self.channel = grpc.secure_channel(address, channel_credentials(identity), options=options)
        self.outbox: queue.Queue[federation_pb2.SignedEnvelope | None] = queue.Queue()
        self.session = LinkSession(identity.code.code, parent, b"test-link-00001")
        self.identity = identity

        def outgoing() -> Iterator[federation_pb2.SignedEnvelope]:
            while (item := self.outbox.get()) is not None:
                yield item

        # a deadline, so a link the node wrongly keeps open fails the test instead of hanging it
        self.responses = federation_pb2_grpc.FederationServiceStub(self.channel).Link(outgoing(), timeout=30)

    def send(self, envelope: federation_pb2.SignedEnvelope) -> None:
        self.outbox.put(envelope)

    def ping(self) -> federation_pb2.SignedEnvelope:
        now = int(dt.datetime.now(dt.UTC).timestamp() * 1_000_000)
        return self.session.wrap(self.identity.key, federation_pb2.EnvelopeBody(ping=federation_pb2.Ping()), now)

    def hello(self) -> None:
        self.send(hello(self.identity, self.session, dt.datetime.now(dt.UTC)))

    def next(self) -> federation_pb2.SignedEnvelope:
        envelope: federation_pb2.SignedEnvelope = next(self.responses)
        return envelope

    def close(self) -> None:
        self.outbox.put(None)
        self.channel.close()


def _refused(link: RawLink) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as err:
        while True:
            link.next()
    link.close()
    return err.value


def test_tampered_replayed_and_oversize_envelopes(federation: dict[str, tuple[Path, Running]]) -> None:
    home, running = federation["township"]
    child = _enrolled_child(federation, "511602001002")
    before = settled_counts(home)

    link = RawLink(running.ports["federation"], child, CHAIN[3])
    link.hello()
    assert link.next()  # the township's Hello: the genuine child is accepted
    good = link.ping()
    link.send(federation_pb2.SignedEnvelope(payload=good.payload[:-1] + b"\x02", signature=good.signature))
    err = _refused(link)
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED and "BadSignature" in (err.details() or "")

    link = RawLink(running.ports["federation"], child, CHAIN[3])
    link.hello()
    link.next()
    ping = link.ping()
    link.send(ping)
    link.next()
    link.send(ping)  # the same envelope again
    err = _refused(link)
    assert err.code() == grpc.StatusCode.ABORTED and "Replay" in (err.details() or "")

    link = RawLink(running.ports["federation"], child, CHAIN[3])
    link.hello()
    link.next()
    link.send(federation_pb2.SignedEnvelope(payload=b"\x00" * (100 * 1024 * 1024)))
    err = _refused(link)
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED

    assert db_counts(home) == before
    kinds = [k for k, _ in alarms(home)]
    assert "BadSignature" in kinds and "Replay" in kinds


def test_a_revoked_child_is_refused(federation: dict[str, tuple[Path, Running]]) -> None:
    home, running = federation["township"]
    child = _enrolled_child(federation, "511602001003")
    cli(home, "enroll", "revoke", "511602001003", "--reason", "test")
    before = settled_counts(home)
    link = RawLink(running.ports["federation"], child, CHAIN[3])
    link.hello()
    err = _refused(link)
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED and "CertificateRevoked" in (err.details() or "")
    assert db_counts(home) == before
    assert ("CertificateRevoked", "?") in alarms(home)


def test_a_county_certifying_outside_its_prefix_is_refused(federation: dict[str, tuple[Path, Running]]) -> None:
    home, running = federation["county"]
    county_key, county_chain = _key_of(home), _chain_of(home)
    rogue_key = NodeKey.generate()
    # 岳池县's village, certified by 广安区: every link check refuses it
    rogue = _build(
        D("511621101002"),
        rogue_key.public_key,
        _name(D("511602000000")),
        county_key,
        certified_key(county_chain[0]),
        dt.datetime.now(dt.UTC),
        30,
        99,
    )
    before = settled_counts(home)
    link = RawLink(running.ports["federation"], Identity(rogue_key, (rogue, *county_chain)), CHAIN[2])
    link.hello()
    err = _refused(link)
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED and "OutsidePrefix" in (err.details() or "")
    assert db_counts(home) == before
    assert "OutsidePrefix" in [k for k, _ in alarms(home)]


def test_another_provinces_root_and_an_expired_certificate_fail_the_handshake(
    federation: dict[str, tuple[Path, Running]],
) -> None:
    home, running = federation["township"]
    now = dt.datetime.now(dt.UTC)
    foreign_root_key, foreign_key = NodeKey.generate(), NodeKey.generate()
    foreign_root = make_root(D("500000000000"), foreign_root_key, now, 1)
    foreign = _build(
        D("511602001004"),
        foreign_key.public_key,
        foreign_root.subject,
        foreign_root_key,
        foreign_root_key.public_key,
        now,
        30,
        2,
    )
    town_key, town_chain = _key_of(home), _chain_of(home)
    old_key = NodeKey.generate()
    expired = _build(
        D("511602001005"),
        old_key.public_key,
        town_chain[0].subject,
        town_key,
        certified_key(town_chain[0]),
        now - dt.timedelta(days=400),
        30,
        77,
    )
    before = settled_counts(home)
    for identity in (Identity(foreign_key, (foreign, foreign_root)), Identity(old_key, (expired, *town_chain))):
        link = RawLink(running.ports["federation"], identity, CHAIN[3])
        link.hello()
        err = _refused(link)
        # mutual TLS refuses the chain before any envelope is read
        assert err.code() == grpc.StatusCode.UNAVAILABLE
    assert db_counts(home) == before


def test_used_expired_and_foreign_tokens_are_refused(federation: dict[str, tuple[Path, Running]]) -> None:
    home, _ = federation["township"]
    now = dt.datetime.now(dt.UTC)
    used = Token.decode(cli_json(home, "enroll", "token", "--child", "511602001006")["token"])
    enroll_with_parent("127.0.0.1", used, D("511602001006"), NodeKey.generate(), now)
    expired = Token.decode(cli_json(home, "enroll", "token", "--child", "511602001004")["token"])
    with sqlite3.connect(home / "yiwang.db") as conn:  # as if a day had passed
        conn.execute("update enrollment_tokens set expires_at_us = 0 where child_code = '511602001004'")
    other = Token.decode(cli_json(home, "enroll", "token", "--child", "511602001005")["token"])
    before = settled_counts(home)
    cases = [
        (used, "511602001006", "used already"),
        (expired, "511602001004", "expired"),
        (
            Token("511602001009", other.enroll_port, other.expires_at, other.secret, other.parent_fingerprint),
            "511602001009",
            "made for 511602001005",
        ),
    ]
    for token, code, message in cases:
        with pytest.raises(SetupError, match=message):
            enroll_with_parent("127.0.0.1", token, D(code), NodeKey.generate(), now)
    assert db_counts(home) == before
    assert [k for k, _ in alarms(home)].count("BadToken") >= 3


def test_a_new_node_fetches_the_ancestor_catalog_when_it_enrolls(
    federation: dict[str, tuple[Path, Running]], tmp_path: Path
) -> None:
    import json as json_

    province, township = federation["province"], federation["township"]
    (tmp_path / "p.json").write_text(json_.dumps([portal_item(CHAIN[0])]), encoding="utf-8")
    cli(province[0], "catalog", "import", str(tmp_path / "p.json"))
    wait_for(
        lambda: _count(township[0], "select count(*) from catalog_items where division_code = ?", CHAIN[0]),
        60,
        "the province item at the township",
    )
    home = tmp_path / "new-village"
    token = cli_json(township[0], "enroll", "token", "--child", "511602001002")["token"]
    address = township[1].ports["federation"]
    info = cli_json(home, "init", "--code", "511602001002", "--parent", address, "--token", token, *ANY_PORTS)
    assert info["ancestor_entries"] > 0
    # held before it ever ran: the province's item, and its ancestors' certificates
    assert _count(home, "select count(*) from catalog_items where division_code = ?", CHAIN[0]) == 1
    assert _count(home, "select count(*) from entries where kind = 'cert_issued'") >= 4
    assert cli_json(home, "sync")["entries"] == info["ancestor_entries"]  # again: nothing new
    assert cli_json(home, "audit", "verify")["ok"]
    # a province has no parent to fetch from: refused, nothing written
    before = db_counts(province[0])
    assert "no parent" in cli(province[0], "sync", expect=2).stderr
    assert db_counts(province[0]) == before


def test_keys_rotate_renews_through_the_parent(federation: dict[str, tuple[Path, Running]], tmp_path: Path) -> None:
    """A new key and certificate; what was sealed at rest to the old key (the applicant's
    bundle, a material file) still opens: the old key is kept, owner-only, to open it."""
    import json as json_

    home, _ = federation["village"]
    (tmp_path / "v.json").write_text(json_.dumps([portal_item(CHAIN[4])]), encoding="utf-8")
    cli(home, "catalog", "import", str(tmp_path / "v.json"))
    (tmp_path / "scan.pdf").write_bytes(b"%PDF-1.4 scan of a household register")
    filed = cli_json(
        home,
        "case",
        "file",
        "--item",
        f"511A0138600000-{CHAIN[4]}-000-1",
        "--name",
        "钱七",
        "--id",
        "11010519491231002X",
        "--material-file",
        f"户口簿={tmp_path / 'scan.pdf'}",
    )
    case_no = filed["case_no"]
    old = _chain_of(home)[0]
    renewed = cli_json(home, "keys", "rotate")
    new = _chain_of(home)[0]
    assert new.serial_number != old.serial_number and code_of(new) == D(CHAIN[4])
    assert renewed["code"] == CHAIN[4]
    assert cli_json(home, "audit", "verify")["ok"]
    assert make_csr(D(CHAIN[4]), _key_of(home)).public_key() == new.public_key()
    assert cli_json(home, "case", "show", case_no, "--reveal")["applicant"]["name"] == "钱七"
    cli(home, "case", "material", case_no, "户口簿", "--out", str(tmp_path / "back.pdf"))
    assert (tmp_path / "back.pdf").read_bytes() == (tmp_path / "scan.pdf").read_bytes()
    retired = list((home / "retired-keys").iterdir())
    assert len(retired) == 1 and retired[0].stat().st_mode & 0o077 == 0
    assert (home / "retired-keys").stat().st_mode & 0o077 == 0
    # the running node follows the new key: a copy it signs now is stored by its parent
    from yiwang.v1 import case_pb2, node_service_pb2

    from tests.helpers import api_stub

    token = cli_json(home, "users", "add", "rotation-check", "--client", "--role", "clerk")["token"]
    channel, api = api_stub(federation["village"][1].ports["api"], token)
    try:
        offer = case_pb2.CaseEntry(
            case_no=case_no, custody_offered=case_pb2.CustodyOffered(to=CHAIN[3], purpose="escalate")
        )
        api.ActOnCase(node_service_pb2.ActOnCaseRequest(change=offer), timeout=30)
    finally:
        channel.close()
    query = "select count(*) from addressed where subject = ? and kind = 'case_custody_offered' and state = ?"
    wait_for(lambda: _count(home, query, case_no, "forwarded"), 60, "the offer signed with the new key, stored above")
    assert _count(home, query, case_no, "dead") == 0


def test_a_child_reconnects_after_its_parent_restarts(tmp_path: Path) -> None:
    province, city = tmp_path / "province", tmp_path / "city"
    fixed = [
        "--listen",
        f"127.0.0.1:{free_port()}",
        "--enroll-listen",
        f"127.0.0.1:{free_port()}",
        "--api-listen",
        "127.0.0.1:0",
        "--web-listen",
        "127.0.0.1:0",
    ]
    cli(province, "init", "--code", CHAIN[0], *fixed)
    parent = Running(province)
    child = None
    try:
        token = cli_json(province, "enroll", "token", "--child", CHAIN[1])["token"]
        cli(city, "init", "--code", CHAIN[1], "--parent", parent.ports["federation"], "--token", token, *ANY_PORTS)
        child = Running(city)
        wait_for(lambda: _links(city) == {CHAIN[0]: "connected"}, 30, "the first link")
        parent.stop()
        wait_for(lambda: _links(city) == {CHAIN[0]: "disconnected"}, 30, "the child to notice")
        parent = Running(province)  # same ports from the config
        wait_for(lambda: _links(city) == {CHAIN[0]: "connected"}, 60, "the child to reconnect")
        assert _links(province) == {CHAIN[1]: "connected"}
    finally:
        if child is not None:
            child.stop()
        parent.stop()


def test_bad_federation_input_writes_nothing(tmp_path: Path) -> None:
    province = tmp_path / "province"
    cli(province, "init", "--code", CHAIN[0], *ANY_PORTS)
    before = db_counts(province, skip=())
    err = cli(province, "enroll", "token", "--child", "511602000000", expect=2).stderr
    assert "not a child of 510000000000" in err
    err = cli(province, "enroll", "revoke", "511600000000", expect=2).stderr
    assert "issued no unrevoked certificate" in err
    assert db_counts(province, skip=()) == before
    child = tmp_path / "city"
    err = cli(child, "init", "--code", CHAIN[1], "--parent", "127.0.0.1:1", "--token", "ywt1.garbage", expect=2).stderr
    assert "token is damaged" in err and not child.exists()
    err = cli(child, "init", "--code", CHAIN[1], "--parent", "127.0.0.1:1", expect=2).stderr
    assert "go together" in err and not child.exists()
    config = (province / "yiwang.toml").read_text()
    (tmp_path / "not.pem").write_text("hello")
    err = cli(province, "anchors", "add", str(tmp_path / "not.pem"), expect=2).stderr
    assert "not a PEM certificate" in err
    assert (province / "yiwang.toml").read_text() == config and not (province / "anchors").exists()
    sim_dir = tmp_path / "sim"
    for branch, says in (("999999999999", "--divisions"), ("511602999000", "not in the division file")):
        proc = subprocess.run(
            [sys.executable, "-m", "node.cli.app", "sim", "--branch", branch, "--dir", str(sim_dir), "--detach"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 2 and says in proc.stderr and not sim_dir.exists()


def test_peer_provinces_link_only_through_configured_anchors(tmp_path: Path) -> None:
    sichuan, chongqing = tmp_path / "sichuan", tmp_path / "chongqing"
    cli(sichuan, "init", "--code", "510000000000", *ANY_PORTS)
    cq_port = free_port()
    cli(
        chongqing,
        "init",
        "--code",
        "500000000000",
        "--listen",
        f"127.0.0.1:{cq_port}",
        "--enroll-listen",
        "127.0.0.1:0",
        "--api-listen",
        "127.0.0.1:0",
        "--web-listen",
        "127.0.0.1:0",
    )
    (tmp_path / "cq.pem").write_text(cli(chongqing, "keys", "root").stdout)
    (tmp_path / "sc.pem").write_text(cli(sichuan, "keys", "root").stdout)
    # Sichuan trusts and dials Chongqing, but Chongqing does not trust Sichuan yet
    cli(sichuan, "anchors", "add", str(tmp_path / "cq.pem"), "--dial", f"500000000000@127.0.0.1:{cq_port}")
    assert [a["province"] for a in cli_json(sichuan, "anchors", "list")] == ["500000000000"]
    running = [Running(chongqing), Running(sichuan)]
    try:
        wait_for(lambda: _links(sichuan).get("500000000000") == "disconnected", 30, "the refused link")
        running[0].stop()
        cli(chongqing, "anchors", "add", str(tmp_path / "sc.pem"))
        before = db_counts(chongqing)
        running[0] = Running(chongqing)
        wait_for(lambda: _links(sichuan).get("500000000000") == "connected", 60, "the peer link")
        wait_for(lambda: _links(chongqing).get("510000000000") == "connected", 30, "Chongqing to see Sichuan")
        assert db_counts(chongqing) == before  # linking stores nothing
        # an addressed entry crosses to the peer province, and one comes back over the same link
        cli(sichuan, "notice", "send", "--to", "500000000000", "--title", "跨省通办协查", "请协查")
        cli(chongqing, "notice", "send", "--to", "510000000000", "--title", "回复", "已收到")
        for home, title in ((chongqing, "跨省通办协查"), (sichuan, "回复")):
            got = wait_for(functools.partial(_received, home), 30, f"the notice at {home.name}")
            assert [n["title"] for n in got] == [title]
        assert {n["state"] for n in cli_json(sichuan, "notice", "list")} == {"sent", "received"}
    finally:
        for r in running:
            r.stop()
    err = cli(sichuan, "anchors", "add", str(tmp_path / "sc.pem"), expect=2).stderr
    assert "own root" in err


def test_sim_starts_a_branch_and_stops_it_by_pid(tmp_path: Path) -> None:
    import json as json_
    import subprocess
    import sys

    folder = tmp_path / "sim"
    args = [
        sys.executable,
        "-m",
        "node.cli.app",
        "sim",
        "--dir",
        str(folder),
        "--branch",
        "511621101000",
        "--villages",
        "1",
        "--detach",
        "--json",
    ]
    started = json_.loads(subprocess.run(args, capture_output=True, text=True, timeout=180, check=True).stdout)
    codes = [n["code"] for n in started["nodes"]]
    try:
        assert codes[:4] == ["510000000000", "511600000000", "511621000000", "511621101000"]
        assert len(codes) == 5 and D(codes[4]).parent() == D("511621101000")  # the township's first village
        village = folder / codes[4]
        wait_for(lambda: _links(village) == {"511621101000": "connected"}, 30, "the village link")
    finally:
        subprocess.run(
            [sys.executable, "-m", "node.cli.app", "sim", "stop", "--dir", str(folder)],
            check=True,
            capture_output=True,
            timeout=60,
        )
    for node in started["nodes"]:
        with pytest.raises(ProcessLookupError):
            os.kill(node["pid"], 0)


@pytest.mark.parametrize("sc_suite", ["p256", "sm2"])
def test_a_cross_province_case_is_handled_in_sichuan_for_a_chongqing_filing(tmp_path: Path, sc_suite: str) -> None:
    """Chongqing's province files a Sichuan county's 通办 item; the offer crosses the peer link
    and goes down to the county, which takes the case, decides it with a licence and hands the
    result back; Chongqing delivers it and holds a licence it verifies offline. With Sichuan on
    the national suite (sm2), the two provinces verify each other's SM2 and P-256 signatures,
    and the county's SM2-signed licence verifies on both sides."""
    import json as json_

    sc, city, county, cq = (tmp_path / n for n in ("sichuan", "city", "county", "chongqing"))
    cq_port = free_port()
    cq_ports = [*["--listen", f"127.0.0.1:{cq_port}", "--enroll-listen", "127.0.0.1:0"], *ANY_PORTS[4:]]
    cli(cq, "init", "--code", "500000000000", *cq_ports)
    cli(sc, "init", "--code", CHAIN[0], "--suite", sc_suite, *ANY_PORTS)
    (tmp_path / "cq.pem").write_text(cli(cq, "keys", "root").stdout)
    (tmp_path / "sc.pem").write_text(cli(sc, "keys", "root").stdout)
    cli(sc, "anchors", "add", str(tmp_path / "cq.pem"), "--dial", f"500000000000@127.0.0.1:{cq_port}")
    cli(cq, "anchors", "add", str(tmp_path / "sc.pem"))
    running = [Running(cq), Running(sc)]
    try:
        for home, code, parent in ((city, CHAIN[1], sc), (county, CHAIN[2], city)):
            token = cli_json(parent, "enroll", "token", "--child", code)["token"]
            address = next(r for r in running if r.home == parent).ports["federation"]
            cli(home, "init", "--code", code, "--parent", address, "--token", token, *ANY_PORTS)
            running.append(Running(home))
        code = f"511A0138600000-{CHAIN[2]}-000-115113010833722043-1-05"
        item = {**portal_item(CHAIN[2]), "implementation_code": code, "cross_region": True}
        (tmp_path / "item.json").write_text(json_.dumps([item]), encoding="utf-8")
        cli(county, "catalog", "import", str(tmp_path / "item.json"))
        cli(cq, "catalog", "import", str(tmp_path / "item.json"))  # a peer province's 通办 item
        # ... but not one that is not cross-region: refused, nothing written
        (tmp_path / "plain.json").write_text(json_.dumps([portal_item(CHAIN[2])]), encoding="utf-8")
        before = db_counts(cq)
        assert "cross-region" in cli(cq, "catalog", "import", str(tmp_path / "plain.json"), expect=2).stderr
        assert db_counts(cq) == before
        case_no = cli_json(cq, "case", "file", "--item", code, "--name", "钱七", "--id", "11010519491231002X")[
            "case_no"
        ]
        wait_for(lambda: case_field(county, case_no, "offered_to") == CHAIN[2], 90, "the offer at the county")
        cli(county, "case", "take", case_no)
        wait_for(lambda: "applicant" in cli_json(county, "case", "show", case_no, "--reveal"), 90, "the bundle")
        cli(county, "case", "accept", case_no)
        number = cli_json(county, "case", "decide", case_no, "--approve", "--license")["license_no"]
        cli(county, "case", "offer", case_no, "--to", "500000000000", "--purpose", "result")
        wait_for(lambda: case_field(cq, case_no, "offered_to") == "500000000000", 90, "the result in Chongqing")
        cli(cq, "case", "take", case_no)
        cli(cq, "case", "deliver", case_no)
        wait_for(lambda: case_field(sc, case_no, "status") == "delivered", 90, "Sichuan's province to see it")
        assert [h["license_no"] for h in cli_json(cq, "license", "list")] == [number]
        cli(cq, "license", "export", number, "--out", str(tmp_path / "lic.bin"))
        for home in (cq, sc):  # offline, at both provinces
            assert cli_json(home, "license", "verify", str(tmp_path / "lic.bin"))["issuer"] == CHAIN[2]
        assert cli_json(county, "status")["suite"] == {"p256": "p256-sha256", "sm2": "sm2-sm3"}[sc_suite]
    finally:
        for r in reversed(running):
            r.stop()
