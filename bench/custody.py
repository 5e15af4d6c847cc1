"""Benchmark: custody moves on a running five-tier federation (`yiwang sim`, real processes).

A village files errands through its local API (NodeService on 127.0.0.1); each is offered to
the county at once. A worker at the county's local API takes every case offered to it and
offers it back to the village with the result; a worker at the village takes it back. Both
workers act through the local API of the running node, as window software would.

(a) round trip: one case at a time, from the village's FileCase until the village sees the
    county's offer back (village -> township -> county and back, two custody moves and the
    replication that shows the county the case): median and p99 over --round-trips cases;
(b) custody moves/s: --cases cases in flight at once, four moves each (offer, take, offer
    back, take back), until the village holds them all again;
(c) joint review (并联审批, issue 14): one case at a time, the county opens the review of an
    item whose plan asks three county departments and the city; workers at the county's and
    the city's local APIs answer each request as soon as it shows in their queue; the latency
    runs from the county's request until the county holds all four opinions (the city's
    travels up the county's stream and back down as a signed addressed entry): median and p99
    over --joint cases.
Bounded: --round-trips, --cases and --joint cases, --timeout seconds per phase.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc
from yiwang.v1 import case_pb2, node_service_pb2, node_service_pb2_grpc

from federation.transport.api_client import connect

VILLAGE, COUNTY, CITY = "511602001001", "511602000000", "511600000000"
ITEM = f"511A0138600000-{COUNTY}-000-115113010833722043-1-09"
JOINT_ITEM = f"511Z07001006-{COUNTY}-000-11511301008778183N-1-00"  # 企业投资项目 (the district catalog)
# 广安区 departments with their real credit codes (shared/data/catalog_sichuan_511602.csv), and
# one standing in for the city's
PLAN = {
    "reviewers": [
        {"department": "11511301008778183N", "name": "区经信局"},
        {"department": "11511301008778255F", "name": "区住建局"},
        {"department": "11511301008778423H", "name": "区农业农村局"},
        {"department": "11511301008778490F", "name": "市卫健委", "node": "city"},
    ]
}


def yiwang(*args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "node.cli.app", *args], capture_output=True, text=True, check=True, timeout=300
    ).stdout


def stub(address: str, home: Path) -> node_service_pb2_grpc.NodeServiceStub:
    """The node's local API as an API client made for the bench (every role)."""
    made = json.loads(yiwang("users", "add", "bench", "--client", "--role", "admin", "--json", "-d", str(home)))
    return connect(address, made["token"])[1]


def outline(api: node_service_pb2_grpc.NodeServiceStub, case_no: str) -> case_pb2.CaseOutline | None:
    try:
        response: node_service_pb2.CaseResponse = api.GetCase(node_service_pb2.GetCaseRequest(case_no=case_no))
    except grpc.RpcError:
        return None  # not here yet
    return response.outline


def act(api: node_service_pb2_grpc.NodeServiceStub, case_no: str, **change: object) -> None:
    entry = case_pb2.CaseEntry(case_no=case_no, actor="bench", **change)  # type: ignore[arg-type]
    api.ActOnCase(node_service_pb2.ActOnCaseRequest(change=entry))


def file_errand(api: node_service_pb2_grpc.NodeServiceStub) -> str:
    request = node_service_pb2.FileCaseRequest(
        item_code=ITEM,
        agent="agent-07",
        consent=True,
        applicant_name="王大妈",
        applicant_id="440524188001010014",
    )
    return str(api.FileCase(request).outline.case_no)


class Worker(threading.Thread):
    """Takes every case offered to `me` and, at the county, offers it back to the village."""

    def __init__(self, api: node_service_pb2_grpc.NodeServiceStub, me: str, cases: list[str], back_to: str) -> None:
        super().__init__(daemon=True)
        self.api, self.me, self.cases, self.back_to = api, me, cases, back_to
        self.done: set[str] = set()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for case_no in list(self.cases):
                if case_no in self.done:
                    continue
                o = outline(self.api, case_no)
                if o is None or o.offered_to != self.me:
                    continue
                act(self.api, case_no, custody_accepted=case_pb2.CustodyAccepted(by=self.me))
                if self.back_to:
                    offer = case_pb2.CustodyOffered(to=self.back_to, purpose="result")
                    act(self.api, case_no, custody_offered=offer)
                self.done.add(case_no)
            time.sleep(0.005)


class Reviewer(threading.Thread):
    """Answers every joint-review request in a node's queue with 同意, as a department system
    would through the node's local API."""

    def __init__(self, api: node_service_pb2_grpc.NodeServiceStub) -> None:
        super().__init__(daemon=True)
        self.api = api
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for row in self.api.ListReviews(node_service_pb2.ListReviewsRequest()).rows:
                answer = node_service_pb2.AnswerReviewRequest(
                    case_no=row.case_no, department=row.department, verdict="agree"
                )
                self.api.AnswerReview(answer)
            time.sleep(0.005)


def joint_review(county: node_service_pb2_grpc.NodeServiceStub, timeout: float) -> float:
    """Seconds from the county's request until it holds the four opinions of one new case."""
    request = node_service_pb2.FileCaseRequest(
        item_code=JOINT_ITEM, applicant_kind="2", applicant_name="某实业有限公司", applicant_id="91110000600037341L"
    )
    case_no = str(county.FileCase(request).outline.case_no)
    act(county, case_no, accepted=case_pb2.Accepted())
    started = time.perf_counter()
    act(county, case_no, review_requested=case_pb2.ReviewRequested())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = county.ListReviews(node_service_pb2.ListReviewsRequest(case_no=case_no)).rows
        if len(rows) == 4 and all(r.verdict for r in rows):
            return time.perf_counter() - started
        time.sleep(0.002)
    raise SystemExit(f"timed out: {case_no}'s four opinions did not reach the county")


def wait_offered(api: node_service_pb2_grpc.NodeServiceStub, case_no: str, to: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        o = outline(api, case_no)
        if o is not None and o.offered_to == to:
            return
        time.sleep(0.002)
    raise SystemExit(f"timed out: {case_no} not offered to {to}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--round-trips", type=int, default=50)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--joint", type=int, default=30)
    parser.add_argument("--timeout", type=float, default=300.0)
    ns = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sim = Path(tmp) / "sim"
        nodes = json.loads(
            yiwang("sim", "--dir", str(sim), "--branch", "511602001000", "--villages", "1", "--detach", "--json")
        )["nodes"]
        try:
            ports = {n["code"]: n for n in nodes}
            item = {
                "basic_code": "511A0138600000",
                "implementation_code": ITEM,
                "name": "教师资格认定",
                "power_type": "01",
                "department": "区教科体局",
                "division_code": COUNTY,
                "legal_limit_days": 20,
                "agent_allowed": True,
            }
            joint = {
                **item,
                "basic_code": "511Z07001006",
                "implementation_code": JOINT_ITEM,
                "name": "企业投资项目核准",
                "power_type": "01",
                "department": "区经信局",
                "service_objects": ["2"],
                "legal_limit_days": 45,
                "agent_allowed": False,
                "joint_review": PLAN,
            }
            (Path(tmp) / "item.json").write_text(json.dumps([item, joint]), encoding="utf-8")
            yiwang("catalog", "import", str(Path(tmp) / "item.json"), "-d", ports[COUNTY]["data_dir"])
            village = stub(ports[VILLAGE]["api"], Path(ports[VILLAGE]["data_dir"]))
            county = stub(ports[COUNTY]["api"], Path(ports[COUNTY]["data_dir"]))
            deadline = time.monotonic() + 60
            while True:
                try:
                    village.GetItem(node_service_pb2.GetItemRequest(implementation_code=ITEM))
                    break
                except grpc.RpcError:
                    if time.monotonic() > deadline:
                        raise SystemExit("the county's item did not reach the village") from None
                    time.sleep(0.2)
            # (a) round trips, one case at a time
            cases: list[str] = []
            county_worker = Worker(county, COUNTY, cases, VILLAGE)
            county_worker.start()
            trips = []
            for _ in range(ns.round_trips):
                started = time.perf_counter()
                case_no = file_errand(village)
                cases.append(case_no)
                wait_offered(village, case_no, VILLAGE, ns.timeout)
                trips.append(time.perf_counter() - started)
                act(village, case_no, custody_accepted=case_pb2.CustodyAccepted(by=VILLAGE))
            county_worker.stop.set()
            # (b) moves/s with many cases in flight
            batch: list[str] = []
            county_worker = Worker(county, COUNTY, batch, VILLAGE)
            village_worker = Worker(village, VILLAGE, batch, "")
            started = time.perf_counter()
            for _ in range(ns.cases):
                batch.append(file_errand(village))
            county_worker.start()
            village_worker.start()
            deadline = time.monotonic() + ns.timeout
            while len(village_worker.done) < ns.cases:
                if time.monotonic() > deadline:
                    raise SystemExit(f"timed out: {len(village_worker.done)} of {ns.cases} back at the village")
                time.sleep(0.05)
            took = time.perf_counter() - started
            county_worker.stop.set()
            village_worker.stop.set()
            # (c) four-reviewer joint reviews, one at a time
            city = stub(ports[CITY]["api"], Path(ports[CITY]["data_dir"]))
            reviewers = [Reviewer(county), Reviewer(city)]
            for r in reviewers:
                r.start()
            joints = [joint_review(county, ns.timeout) for _ in range(ns.joint)]
            for r in reviewers:
                r.stop.set()
        finally:
            yiwang("sim", "stop", "--dir", str(sim))
    trips_ms = sorted(t * 1000 for t in trips)
    p99 = trips_ms[min(len(trips_ms) - 1, round(0.99 * (len(trips_ms) - 1)))]
    print(
        f"(a) village -> county -> village round trip over {len(trips)} cases: "
        f"median {statistics.median(trips_ms):.0f} ms, p99 {p99:.0f} ms, max {trips_ms[-1]:.0f} ms"
    )
    print(
        f"(b) {ns.cases} cases in flight: {4 * ns.cases} custody moves in {took:.1f} s = "
        f"{4 * ns.cases / took:.1f} moves/s (filing included)"
    )
    joint_ms = sorted(t * 1000 for t in joints)
    p99 = joint_ms[min(len(joint_ms) - 1, round(0.99 * (len(joint_ms) - 1)))]
    print(
        f"(c) four-reviewer joint review (three county departments and the city) over {len(joints)} cases: "
        f"median {statistics.median(joint_ms):.0f} ms, p99 {p99:.0f} ms, max {joint_ms[-1]:.0f} ms; "
        f"against (a)'s round trip, median {statistics.median(joint_ms) / statistics.median(trips_ms):.2f} x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
