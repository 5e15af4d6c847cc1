"""Monitoring (issue 13): the Prometheus metrics a running node serves (link state and lag,
outbox, dead letters, alarms, certificate days left, version), the same figures in `yiwang
status --json`, the version every node of the province runs (`yiwang versions`), and the
certificate-expiry alarm 30 days ahead, once a day."""

from __future__ import annotations

import datetime as dt
import re
import urllib.request
from pathlib import Path

import pytest

from node.context import Node
from node.domain.entries import Kind, Stream
from node.journal import Record
from node.services.health import CERT_ALARM, version
from tests.conftest import Clock
from tests.fedtools import Running, cli_json, start_chain, wait_for
from tests.test_replica import enroll, province_node

PROVINCE, CITY, COUNTY = "510000000000", "511600000000", "511602000000"


def _scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        text: str = response.read().decode("utf-8")
    return text


def _value(text: str, metric: str) -> float | None:
    found = re.search(rf"^{re.escape(metric)} (\S+)$", text, flags=re.M)
    return None if found is None else float(found.group(1))


def _when(address: str, metric: str) -> str | None:
    """The metrics at `address` once `metric` is 1."""
    text = _scrape(f"http://{address}/metrics")
    return text if _value(text, metric) == 1.0 else None


def test_a_running_chain_serves_its_metrics_as_status_says(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YIWANG_MONITORING_METRICS_LISTEN", "127.0.0.1:0")
    nodes: dict[str, tuple[Path, Running]] = {}
    try:
        start_chain(tmp_path, [("province", PROVINCE), ("city", CITY), ("county", COUNTY)], nodes)
        (city_home, city), (_, province) = nodes["city"], nodes["province"]
        up = f'yiwang_link_up{{peer="{PROVINCE}",role="parent"}}'
        text = wait_for(lambda: _when(city.ports["metrics"], up), 30, "the city's parent link in its metrics")
        status = cli_json(city_home, "status")
        days = _value(text, "yiwang_certificate_days_left")
        assert days is not None and int(days) == status["certificate"]["days_left"]
        assert f'yiwang_info{{code="{CITY}",tier="city",version="{status["version"]}"}} 1.0' in text
        assert _value(text, "yiwang_outbox_depth") == status["outbox"] == 0
        assert _value(text, "yiwang_dead_letters") == status["dead_letters"] == 0
        assert _value(text, f'yiwang_link_lag_entries{{peer="{PROVINCE}",role="parent"}}') is not None
        at_province = _scrape(f"http://{province.ports['metrics']}/metrics")
        child_up = f'yiwang_link_up{{peer="{CITY}",role="child"}}'
        child = _value(wait_for(lambda: _when(province.ports["metrics"], child_up), 30, "the child link"), child_up)
        assert child == 1.0 and "yiwang_certificate_days_left" in at_province
        # each side knows what the other runs (its Hello says), the province of its city too
        version = status["version"]
        assert f'yiwang_peer_info{{peer="{PROVINCE}",role="parent",version="{version}"}} 1.0' in text
        at_province = _scrape(f"http://{province.ports['metrics']}/metrics")
        assert f'yiwang_peer_info{{peer="{CITY}",role="child",version="{version}"}} 1.0' in at_province
        children = [p for p in cli_json(nodes["province"][0], "status")["peers"] if p["code"] == CITY]
        assert [p["software"] for p in children] == [version]
        assert _value(at_province, f'yiwang_peer_certificate_days_left{{peer="{CITY}",role="child"}}') is not None

        # and the whole province's: every node announces its version, which goes up the tree
        def announced() -> list[tuple[str, str]]:
            return [(v["code"], v["version"]) for v in cli_json(nodes["province"][0], "versions")]

        want = [(PROVINCE, version), (CITY, version), (COUNTY, version)]
        assert wait_for(lambda: announced() == want, 60, "the province to know what each node runs")
        assert [v["code"] for v in cli_json(nodes["city"][0], "versions", "--within", COUNTY)] == [COUNTY]
    finally:
        for _, running in reversed(list(nodes.values())):
            running.stop()


def test_the_certificate_alarm_comes_30_days_ahead_once_a_day(tmp_path: Path, clock: Clock) -> None:
    province = province_node(tmp_path / "province", PROVINCE, clock)
    city = enroll(province, CITY, tmp_path, clock)
    try:
        identity = city.identity()
        assert identity is not None
        assert not city.health.check_certificate()  # a new certificate: nothing to say
        clock.now = identity.not_after - dt.timedelta(days=20)
        assert city.health.check_certificate()
        assert not city.health.check_certificate()  # once a day
        clock.now += dt.timedelta(hours=25)
        assert city.health.check_certificate()
        clock.now = identity.not_after - dt.timedelta(days=5)
        assert city.health.check_certificate()
        with city.store.read() as tx:
            raised = [(a.kind, a.level) for a in tx.alarms() if a.kind == CERT_ALARM]
            detail = next(a.detail for a in tx.alarms() if a.kind == CERT_ALARM)
        assert raised == [(CERT_ALARM, "error"), (CERT_ALARM, "warning"), (CERT_ALARM, "warning")]
        assert "yiwang keys rotate" in detail
        assert city.health.snapshot().certificate_days_left == 5
    finally:
        city.close()
        province.close()


def test_a_node_announces_its_version_once_and_an_announcement_of_no_version_has_no_effect(
    tmp_path: Path, clock: Clock
) -> None:
    node = Node.init(tmp_path / "county", COUNTY, clock=clock)
    try:
        assert node.software.announce() is True
        assert node.software.announce() is False  # again only after an upgrade
        assert [(v.code, v.version) for v in node.software.versions()] == [(COUNTY, version())]
        with node.store.transaction() as tx:  # as a hostile or broken node could write it
            tail = node.journal.lock(tx, Stream.PUBLIC)
            bad = [Record(Kind.SOFTWARE_RUNNING, COUNTY, b"0.2'; DROP TABLE node_versions")]
            refused = node.projection.apply(tx, node.journal.append(tx, Stream.PUBLIC, bad, 1, tail)).refused
        assert [why for _, why in refused] == [
            "a software_running entry whose body is no version (up to 32 letters, digits, . + - _)"
        ]
        assert [(v.code, v.version) for v in node.software.versions()] == [(COUNTY, version())]
    finally:
        node.close()
