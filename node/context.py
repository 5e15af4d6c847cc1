"""A node opened on its data directory: settings, key, store, journal, calendar and services.

`Node.init` creates a data directory (config, P-256 key, database); `Node.open` loads one. The
clock is injectable so tests and benchmarks can run at any date.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography import x509

from federation.wire.certs import certified_key, code_of, make_root
from federation.wire.identity import Identity, save_chain
from federation.wire.keys import NodeKey
from node import logs, sim_clock
from node.bell import Bell
from node.config import DB_NAME, Settings, load_settings, write_settings
from node.divisions_data import national
from node.domain.calendar import WorkCalendar
from node.domain.divisions import DivisionCode, Tier
from node.domain.entries import Stream
from node.domain.errors import SetupError
from node.journal import Journal
from node.services.audit import AuditService
from node.services.bundles import Courier
from node.services.calendar import CalendarService
from node.services.cases import CaseService
from node.services.catalog import CatalogService
from node.services.divisions import DivisionService
from node.services.enrollment import Enrollment
from node.services.health import HealthService
from node.services.joint_reviews import JointReviewService
from node.services.licenses import LicenseBook, LicenseService
from node.services.ports import CalendarCache, Clock, IdentityFile
from node.services.principals import PrincipalService
from node.services.projection import Projection
from node.services.queues import WorkQueues
from node.services.rebuild import Rebuilder
from node.services.signoff import SignOffService
from node.services.software import SoftwareService
from node.services.stats import StatsService
from node.services.supervision import SupervisionService
from node.store import Store, open_engine, schema
from sync.mail import MailService
from sync.outbox import Outbox
from sync.replica import ReplicaService


def system_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def private_files(settings: Settings) -> None:
    """The database file (SQLite makes its -wal and -shm files with the same mode) readable by
    the owner only."""
    db = settings.data_dir / DB_NAME
    if not settings.database_url and db.exists():
        db.chmod(0o600)


def check_private(settings: Settings) -> None:
    """Refuse a data directory, key or database that others may read or write (`yiwang run`)."""
    paths = [settings.data_dir, settings.key_path]
    if not settings.database_url:
        paths.append(settings.data_dir / DB_NAME)
    for path in paths:
        mode = path.stat().st_mode & 0o777 if path.exists() else 0
        if mode & 0o077:
            want = "700" if path.is_dir() else "600"
            raise SetupError(f"{path} is mode {mode:o}: others may read it; run `chmod {want} {path}` first")


class Node:
    """The composition root of one node: it opens the store and hands each service the
    collaborators it uses (store, journal, clock, key, calendar, identity, outbox, bell)."""

    def __init__(self, settings: Settings, key: NodeKey, store: Store, clock: Clock = system_clock) -> None:
        self.settings = settings
        self.key = key
        self.store = store
        self.clock = clock
        self.code = settings.code.code
        self.journal = Journal(self.code, key)
        self.bell = Bell()  # rung when something arrives that a link may send on
        self.calendar_cache = CalendarCache(store)
        self.identity = IdentityFile(settings.data_dir, settings.key_path, settings.anchors, clock)
        me = settings.code
        self.projection = Projection(me, self.calendar_cache)
        projection = self.projection
        outbox = Outbox(me, key, self.identity)
        book = LicenseBook(store, clock, key, self.identity)
        self.catalog = CatalogService(me, store, self.journal, projection, clock, self.identity)
        courier = Courier(self.journal, clock, key, outbox)
        self.cases = CaseService(
            store,
            self.journal,
            clock,
            projection,
            self.calendar_cache,
            key,
            outbox,
            book,
            self.bell,
            courier,
            answer_days=settings.offer_answer_days,
        )
        self.queues = WorkQueues(me.code, store, self.cases, clock)
        self.divisions = DivisionService(me, store, self.journal, projection, clock)
        self.health = HealthService(store, self.identity, clock, settings.cert_warn_days)
        self.software = SoftwareService(me, store, self.journal, projection, clock, self.divisions.names)
        self.calendars = CalendarService(
            me, store, self.journal, projection, clock, self.calendar_cache, self.divisions
        )
        self.audit = AuditService(store)
        self.principals = PrincipalService(store, clock)
        self.replica = ReplicaService(me, store, self.journal, projection, clock, self.calendar_cache, self.bell)
        self.licenses = LicenseService(store, self.journal, clock, key, self.identity, self.cases, outbox, self.bell)
        self.stats = StatsService(me, store, self.rebuilder())
        self.signoff = SignOffService(me, store, self.journal, projection, clock, self.stats)
        self.supervision = SupervisionService(
            me, store, self.journal, projection, clock, self.calendar_cache, self.cases, settings.supervision
        )
        self.joint_reviews = JointReviewService(
            me, store, self.journal, projection, clock, self.cases, outbox, self.bell
        )
        self.mail = MailService(store, self.journal, clock, self.identity, projection, outbox, courier, book, self.bell)

    # -- lifecycle ------------------------------------------------------------------------

    @classmethod
    def init(
        cls,
        data_dir: Path,
        code: str,
        database_url: str = "",
        name: str = "",
        profile: str = "",
        clock: Clock = system_clock,
        *,
        key: NodeKey | None = None,
        chain: Sequence[x509.Certificate] = (),
        federation: dict[str, Any] | None = None,
        bus: bool = True,
    ) -> Node:
        """Create a data directory with its config, key and database; refuses an existing one.

        A province gets a self-signed root certificate at once. An enrolled child passes the key
        it enrolled with and the chain its parent returned; `federation` sets the [federation]
        settings (listen addresses, parent)."""
        division = DivisionCode.parse(code, "--code")
        if (data_dir / "yiwang.toml").exists():
            raise SetupError(f"{data_dir} already holds a node; use another --data-dir or remove it")
        registry = national()
        if not name and division in registry:
            name = registry.get(division).name
        settings = Settings(
            data_dir,
            division,
            name,
            profile or division.tier.label,
            database_url,
            bus_enabled=bus,
            **(federation or {}),
        )
        created = not data_dir.exists()
        data_dir.mkdir(parents=True, exist_ok=True)
        data_dir.chmod(0o700)  # the operator's alone: the CLI acts as admin by file permissions
        try:
            engine = open_engine(settings.effective_database_url)
        except SetupError:
            if created:
                shutil.rmtree(data_dir, ignore_errors=True)
            raise
        private_files(settings)
        key = key or NodeKey.generate()
        key.save(settings.key_path)
        if division.tier == Tier.PROVINCE and not chain:
            chain = [make_root(division, key, clock(), serial=1)]
        if chain:
            save_chain(data_dir, chain)
        write_settings(settings)
        if schema.current(engine) is None:
            schema.create(engine)
        else:
            schema.check(engine, str(data_dir))
        store = Store(engine)
        with store.transaction() as tx:
            tx.put_origin_key(division.code, key.key_id, key.public_key.pem)
            for cert in chain[1:]:  # the ancestors: their heads come down with their public streams
                public = certified_key(cert)
                tx.put_origin_key(code_of(cert).code, public.key_id, public.pem)
            tx.ensure_streams(division.code, [s.value for s in Stream])
        logs.configure(settings.log_path)
        logs.get("node").info("node_initialised", node=division.code, tier=division.tier.label)
        return cls(settings, key, store, clock)

    @classmethod
    def open(cls, data_dir: Path, clock: Clock | None = None) -> Node:
        """Open the node at `data_dir`, on `clock`, else the sim's clock if the sim made the
        node (node.sim_clock), else the system clock."""
        clock = clock or sim_clock.clock_of(data_dir) or system_clock
        settings = load_settings(data_dir)
        key = NodeKey.load(settings.key_path)
        engine = open_engine(settings.effective_database_url)
        schema.check(engine, str(data_dir))
        store = Store(engine)
        logs.configure(settings.log_path)
        return cls(settings, key, store, clock)

    def close(self) -> None:
        self.store.close()

    # -- shared state ---------------------------------------------------------------------

    def enrollment(self, identity: Identity, enroll_port: int) -> Enrollment:
        """Certificates this node issues, under `identity` (tokens name `enroll_port`)."""
        return Enrollment(self.store, self.journal, self.projection, self.clock, identity, enroll_port, self.divisions)

    @property
    def name(self) -> str:
        """The division's name: as configured, else from the division list (the national tree,
        and below county level the list the province published once it has arrived)."""
        return self.settings.name or self.divisions.name(self.code)

    def rebuilder(self) -> Rebuilder:
        return Rebuilder(self.settings.code, self.store, self.projection)

    def now(self) -> dt.datetime:
        return self.clock()

    def calendar(self) -> WorkCalendar:
        return self.calendar_cache.get()

    def forget_calendar(self) -> None:
        self.calendar_cache.forget()
