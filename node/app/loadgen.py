"""Generated case load for a sim branch (`yiwang sim load`, the statistics load test and
bench/stats.py): real cases, filed and handled through each node's own services on its own
store, so every entry is a real signed entry of that node's log, which the running federation
replicates. Per working day: `per_day` cases spread over the branch's nodes by `shares` (for `working_days`, then
`settle_days` more on which only decisions go on) (the
county's windows most, townships and villages their own items), channels as at a county hall
(mostly the window, some online), 5-15 % filed by village agents, accepted at once (a few not),
decided within the item's limit (a few late, a few denied), delivered, some evaluated (a few
差评 with their causes). Cases whose decision falls after the last day stay open, so the
completion rate is below 100 %. Seeded: the same plan writes the same cases.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from node.context import Node
from node.domain.catalog import CatalogItem
from node.domain.evaluation import CAUSES
from node.domain.identifiers import resident_id_check_char
from node.domain.lifecycle import Accept, CaseCommand, Decide, Deliver, Evaluate, Reject
from node.domain.timelimits import CHINA_TZ
from node.services.cases import Applicant, FileRequest

CHANNELS = (("1", 0.80), ("2", 0.12), ("3", 0.08))  # window, PC, mobile (GB/T 39046 A.5)
LEVELS = ((1, 0.70), (2, 0.20), (3, 0.075), (4, 0.015), (5, 0.01))
BATCH = 2000


class SettableClock:
    """The clock the generated commands run under: moved along the plan's days."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def at(self, day: dt.date, hour: int, minute: int = 0) -> None:
        self.now = dt.datetime.combine(day, dt.time(hour, minute), CHINA_TZ).astimezone(dt.UTC)


@dataclass(frozen=True)
class Plan:
    first_day: dt.date
    working_days: int
    per_day: int = 1600  # about Yumen's citizen centre (DOMAIN.md)
    agent_share: float = 0.10  # filed by village agents: 5-15 %
    late_share: float = 0.03  # decided after the due date
    not_accepted_share: float = 0.01
    denied_share: float = 0.02
    evaluated_share: float = 0.40
    stuck_share: float = 0.01  # accepted and never decided in the plan (98-99.9 % completed)
    settle_days: int = 0  # working days after the last filing day on which decisions go on
    seed: int = 1


@dataclass
class Written:
    """What the generator wrote per node."""

    filed: dict[str, int] = field(default_factory=dict)
    commands: dict[str, int] = field(default_factory=dict)
    days: list[dt.date] = field(default_factory=list)


def _pick(rng: random.Random, weighted: tuple[tuple[object, float], ...]) -> object:
    x, total = rng.random(), 0.0
    for value, weight in weighted:
        total += weight
        if x < total:
            return value
    return weighted[-1][0]


def _people(rng: random.Random, n: int) -> list[Applicant]:
    """Residents with valid GB 11643 numbers (Guang'an district region code)."""
    out = []
    for _ in range(n):
        born = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(20000))
        first17 = f"511602{born:%Y%m%d}{rng.randrange(1000):03d}"
        out.append(Applicant("1", "居民", first17 + resident_id_check_char(first17)))
    return out


def generate(nodes: Mapping[str, Node], shares: Mapping[str, float], plan: Plan, clock: SettableClock) -> Written:
    """Write the plan's cases at `nodes` (each opened with `clock`), node by node and day by day."""
    rng = random.Random(plan.seed)
    people = _people(rng, 50)
    calendar = next(iter(nodes.values())).calendar_cache.get()
    days: list[dt.date] = []
    day = plan.first_day
    while len(days) < plan.working_days + plan.settle_days:
        if calendar.is_workday(day):
            days.append(day)
        day += dt.timedelta(days=1)
    written = Written(days=days[: plan.working_days])
    for code, node in nodes.items():
        items = [i for i in _own_items(node) if i.limit_days is not None]
        if not items:
            continue
        per_day = round(plan.per_day * shares.get(code, 0.0))
        finishing: dict[dt.date, list[tuple[str, CatalogItem]]] = {}
        for n, today in enumerate(days):
            clock.at(today, 9)
            requests, chosen = [], []
            for _ in range(per_day if n < plan.working_days else 0):
                item = rng.choice(items)
                agent = item.agent_allowed and rng.random() < plan.agent_share / max(_agent_items(items), 0.05)
                channel = str(_pick(rng, CHANNELS)) if not agent else "1"
                requests.append(
                    FileRequest(
                        item.implementation_code, rng.choice(people), channel, "代办员-01" if agent else "", agent
                    )
                )
                chosen.append(item)
            filed = []
            for start in range(0, len(requests), BATCH):
                filed += node.cases.file_many(requests[start : start + BATCH], "窗口-01")
            written.filed[code] = written.filed.get(code, 0) + len(filed)
            clock.at(today, 9, 30)
            accepts: list[tuple[str, CaseCommand]] = []
            for state, item in zip(filed, chosen, strict=True):
                if rng.random() < plan.not_accepted_share:
                    accepts.append((state.case_no, Reject("申请材料不齐全且申请人无法当场补正, 依法不予受理")))
                    continue
                accepts.append((state.case_no, Accept()))
                if rng.random() < plan.stuck_share:
                    continue
                limit = item.limit_days or 1
                late = rng.random() < plan.late_share
                used = limit + rng.randint(1, 4) if late else rng.randint(0, max(limit - 1, 0))
                finish, _ = calendar.add_working_days(today, used)
                finishing.setdefault(finish, []).append((state.case_no, item))
            _act(node, accepts, written, code)
            clock.at(today, 16)
            done: list[tuple[str, CaseCommand]] = []
            rated: list[tuple[str, CaseCommand]] = []
            for case_no, _item in finishing.pop(today, []):
                approved = rng.random() >= plan.denied_share
                reason = "" if approved else "经审查不符合法定条件, 依据相关规定不予许可"
                done += [(case_no, Decide(approved, reason, "结果-01")), (case_no, Deliver())]
                if rng.random() < plan.evaluated_share:
                    level = int(str(_pick(rng, LEVELS)))
                    causes = (rng.choice(list(CAUSES)),) if level >= 4 else ()
                    rated.append((case_no, Evaluate(level, causes=causes)))
            _act(node, done, written, code)
            clock.at(today, 16, 30)
            _act(node, rated, written, code)
    return written


def _own_items(node: Node) -> list[CatalogItem]:
    out: list[CatalogItem] = []
    after = ""
    while True:
        page = node.catalog.list(limit=500, after=after)
        if not page:
            return [i for i in out if i.division_code == node.code]
        out += page
        after = page[-1].implementation_code


def _agent_items(items: list[CatalogItem]) -> float:
    return sum(i.agent_allowed for i in items) / len(items)


def _act(node: Node, commands: list[tuple[str, CaseCommand]], written: Written, code: str) -> None:
    for start in range(0, len(commands), BATCH):
        node.cases.act_many(commands[start : start + BATCH], "窗口-01")
    written.commands[code] = written.commands.get(code, 0) + len(commands)
