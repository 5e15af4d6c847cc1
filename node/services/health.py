"""How a node is doing, for its operator (`yiwang status`) and its monitoring (the Prometheus
metrics of `yiwang run`): its certificate, its links and their lag, the addressed copies
waiting or refused, the node alarms, the event bus's backlog. And the certificate-expiry alarm:
a node whose certificate ends within `monitoring.cert_warn_days` raises `CertificateExpiring`
once a day, so it is renewed (`yiwang keys rotate`) before links stop, as X-Road asks of its
operators a month ahead.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from importlib import metadata

from node import logs
from node.services.ports import Clock, IdentitySource
from node.store import Store

CERT_ALARM = "CertificateExpiring"
DAY_US = 86_400_000_000


@dataclass(frozen=True)
class LinkHealth:
    code: str
    role: str
    state: str
    address: str
    last_seen_us: int | None
    sent_at_us: int | None
    acked_at_us: int | None
    lag_entries: int | None
    lag_seconds: float
    restarts: int
    error: str
    certificate_until_us: int | None
    software: str  # the peer's yiwang version, from its Hello ("" before it said)


@dataclass(frozen=True)
class Health:
    version: str
    certificate_until: dt.datetime | None
    certificate_days_left: int | None
    links: list[LinkHealth]
    alarms: dict[tuple[str, str], int]  # (kind, level) -> node alarms held
    outbox: int  # addressed copies waiting for their next hop
    dead_letters: int  # addressed copies the next hop refused for good
    bus_unpublished: int  # entries the event-bus relay has not seen acknowledged
    # own streams the parent holds further, while this node gets them back (stream -> up to
    # where); "*" -> 0: restored, not yet checked with the parent. It writes none of them meanwhile.
    recovering: dict[str, int]


def version() -> str:
    """The installed yiwang's version."""
    try:
        return metadata.version("yiwang")
    except metadata.PackageNotFoundError:
        return "unknown"


def lag_seconds(lag: int | None, acked_us: int | None, seen_us: int | None, now: dt.datetime) -> float:
    """How long entries have waited for the peer: since its last acknowledgement (or, before
    any, since the link was last seen) while it lacks any; 0 when it lacks none."""
    if not lag:
        return 0.0
    since = acked_us or seen_us
    return 0.0 if since is None else max(0.0, now.timestamp() - since / 1_000_000)


class HealthService:
    def __init__(self, store: Store, identity: IdentitySource, clock: Clock, warn_days: int) -> None:
        self.store, self.identity, self.clock, self.warn_days = store, identity, clock, warn_days
        self.log = logs.get("health")

    def snapshot(self) -> Health:
        now = self.clock()
        identity = self.identity()
        with self.store.read() as tx:
            peers = tx.peers()
            alarms = tx.node_alarm_counts()
            mail = tx.addressed_counts()
            cursors = tx.relay_cursors()
            unpublished = sum(max(0, seq - cursors.get(key, 0)) for key, (seq, _) in tx.tails().items())
            recovering = tx.behind()
        links = [
            LinkHealth(
                p.code,
                p.role,
                p.state,
                p.address,
                p.last_seen_us,
                p.sent_at_us,
                p.acked_at_us,
                p.lag_entries,
                lag_seconds(p.lag_entries, p.acked_at_us, p.last_seen_us, now),
                p.restarts,
                p.error,
                p.not_after_us,
                p.software,
            )
            for p in peers
        ]
        until = None if identity is None else identity.not_after
        days = None if until is None else (until - now).days
        return Health(
            version(), until, days, links, alarms, mail.get("outbox", 0), mail.get("dead", 0), unpublished, recovering
        )

    def check_certificate(self) -> bool:
        """Raise CertificateExpiring when the certificate ends within the warning days and no
        such alarm was raised in the last day; True when it raised one."""
        identity = self.identity()
        if identity is None:
            return False
        now = self.clock()
        days = (identity.not_after - now).days
        if days > self.warn_days:
            return False
        now_us = int(now.timestamp() * 1_000_000)
        with self.store.transaction() as tx:
            last = tx.last_alarm_us(CERT_ALARM)
            if last is not None and now_us - last < DAY_US:
                return False
            ends = f"{identity.not_after:%Y-%m-%d}"
            detail = f"the node's certificate ends on {ends} ({days} days): run `yiwang keys rotate`"
            tx.raise_alarm(now_us, "error" if days <= 7 else "warning", CERT_ALARM, "", detail)
        self.log.warning("certificate_expiring", days_left=days)
        return True
