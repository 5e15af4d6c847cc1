"""Storage functions for trust and links: issued certificates, revocations, enrollment tokens,
alarms, peers and the versions nodes run. Mixed into `Tx`; every statement of these tables is here."""

from __future__ import annotations

from sqlalchemy import Connection, func, insert, select, update

from node.store.base import Value, rows_as
from node.store.tables import (
    ALARMS,
    ENROLLMENT_TOKENS,
    ISSUED_CERTIFICATES,
    NODE_VERSIONS,
    PEERS,
    PRINCIPALS,
    REVOCATIONS,
    TRUSTED_ROOTS,
    AlarmRow,
    EnrollmentTokenRow,
    IssuedCertRow,
    PeerRow,
    PrincipalRow,
)


class TrustTx:
    conn: Connection

    # -- enrollment tokens ----------------------------------------------------------------

    def put_token(self, secret_hash: bytes, child_code: str, created_at_us: int, expires_at_us: int) -> None:
        self.conn.execute(
            insert(ENROLLMENT_TOKENS),
            {
                "secret_hash": secret_hash,
                "child_code": child_code,
                "created_at_us": created_at_us,
                "expires_at_us": expires_at_us,
            },
        )

    def token(self, secret_hash: bytes) -> EnrollmentTokenRow | None:
        """The token row, locked until commit on PostgreSQL (so it is used only once)."""
        q = select(ENROLLMENT_TOKENS).where(ENROLLMENT_TOKENS.c.secret_hash == secret_hash)
        if self.conn.dialect.name == "postgresql":
            q = q.with_for_update()
        found = rows_as(EnrollmentTokenRow, self.conn.execute(q))
        return found[0] if found else None

    def use_token(self, secret_hash: bytes, at_us: int) -> bool:
        """Mark a token used; False when it was used already (a concurrent enrollment won)."""
        done = self.conn.execute(
            update(ENROLLMENT_TOKENS)
            .where(ENROLLMENT_TOKENS.c.secret_hash == secret_hash, ENROLLMENT_TOKENS.c.used_at_us.is_(None))
            .values(used_at_us=at_us)
        ).rowcount
        return bool(done == 1)

    # -- certificates ---------------------------------------------------------------------

    def put_issued(self, fingerprint: str, code: str, serial: str, not_after_us: int, der: bytes, seq: int) -> None:
        self.conn.execute(
            insert(ISSUED_CERTIFICATES),
            {
                "fingerprint": fingerprint,
                "code": code,
                "serial": serial,
                "not_after_us": not_after_us,
                "der": der,
                "seq": seq,
            },
        )

    def issued_to(self, code: str) -> list[IssuedCertRow]:
        return rows_as(
            IssuedCertRow, self.conn.execute(select(ISSUED_CERTIFICATES).where(ISSUED_CERTIFICATES.c.code == code))
        )

    def enrolled_children(self) -> set[str]:
        """Codes of the child nodes holding a certificate of this node that is not revoked."""
        revoked = self.revoked_fingerprints()
        rows = self.conn.execute(select(ISSUED_CERTIFICATES.c.code, ISSUED_CERTIFICATES.c.fingerprint)).all()
        return {code for code, fp in rows if fp not in revoked}

    def next_serial(self) -> int:
        rows = self.conn.execute(select(ISSUED_CERTIFICATES.c.serial)).scalars().all()
        return 2 + max((int(s) for s in rows), default=0)

    def put_revocation(self, fingerprint: str, code: str, issuer: str, at_us: int, seq: int) -> None:
        if self.conn.execute(select(REVOCATIONS.c.fingerprint).where(REVOCATIONS.c.fingerprint == fingerprint)).first():
            return
        self.conn.execute(
            insert(REVOCATIONS),
            {"fingerprint": fingerprint, "code": code, "issuer": issuer, "revoked_at_us": at_us, "seq": seq},
        )

    def revoked_fingerprints(self) -> set[str]:
        return set(self.conn.execute(select(REVOCATIONS.c.fingerprint)).scalars().all())

    def put_trusted_root(self, fingerprint: str, code: str, origin: str, seq: int) -> bool:
        """Record a published peer root; False when it was known already."""
        if self.conn.execute(
            select(TRUSTED_ROOTS.c.fingerprint).where(TRUSTED_ROOTS.c.fingerprint == fingerprint)
        ).first():
            return False
        self.conn.execute(
            insert(TRUSTED_ROOTS), {"fingerprint": fingerprint, "code": code, "origin": origin, "seq": seq}
        )
        return True

    def trusted_roots(self) -> set[str]:
        return set(self.conn.execute(select(TRUSTED_ROOTS.c.fingerprint)).scalars().all())

    def trusted_root_codes(self) -> set[str]:
        """The province codes of the peer roots this node's province published."""
        return set(self.conn.execute(select(TRUSTED_ROOTS.c.code)).scalars().all())

    # -- alarms and peers -----------------------------------------------------------------

    def raise_alarm(self, at_us: int, level: str, kind: str, peer: str, detail: str) -> None:
        self.conn.execute(
            insert(ALARMS), {"at_us": at_us, "level": level, "kind": kind, "peer": peer, "detail": detail[:500]}
        )

    def alarms_after(self, after_id: int, limit: int = 500) -> list[AlarmRow]:
        """Alarms with an id above `after_id`, oldest first (for the event-bus relay)."""
        q = select(ALARMS).where(ALARMS.c.id > after_id).order_by(ALARMS.c.id).limit(limit)
        return rows_as(AlarmRow, self.conn.execute(q))

    def alarms(self, limit: int = 50) -> list[AlarmRow]:
        return rows_as(AlarmRow, self.conn.execute(select(ALARMS).order_by(ALARMS.c.id.desc()).limit(limit)))

    def alarm_count(self) -> int:
        return int(self.conn.execute(select(func.count()).select_from(ALARMS)).scalar_one())

    def node_alarm_counts(self) -> dict[tuple[str, str], int]:
        """Node alarms held, by (kind, level)."""
        c = ALARMS.c
        q = select(c.kind, c.level, func.count()).group_by(c.kind, c.level)
        return {(str(k), str(lv)): int(n) for k, lv, n in self.conn.execute(q)}

    def last_alarm_us(self, kind: str) -> int | None:
        """When the newest node alarm of `kind` was raised."""
        at = self.conn.execute(select(func.max(ALARMS.c.at_us)).where(ALARMS.c.kind == kind)).scalar_one()
        return None if at is None else int(at)

    def put_peer(self, code: str, role: str, **values: Value) -> None:
        if self.conn.execute(select(PEERS.c.code).where(PEERS.c.code == code)).first():
            self.conn.execute(update(PEERS).where(PEERS.c.code == code).values(role=role, **values))
        else:
            self.conn.execute(insert(PEERS), {"code": code, "role": role, **values})

    def peers(self) -> list[PeerRow]:
        return rows_as(PeerRow, self.conn.execute(select(PEERS).order_by(PEERS.c.role, PEERS.c.code)))

    # -- the versions nodes run -------------------------------------------------------------

    def put_node_version(self, code: str, version: str, since_us: int, seq: int) -> None:
        """What `code` announced at `seq`; an older announcement (replayed out of order) loses."""
        v = NODE_VERSIONS.c
        held = self.conn.execute(select(v.seq).where(v.code == code)).scalar()
        row = {"version": version, "since_us": since_us, "seq": seq}
        if held is None:
            self.conn.execute(insert(NODE_VERSIONS), {"code": code, **row})
        elif held < seq:
            self.conn.execute(update(NODE_VERSIONS).where(v.code == code).values(**row))

    def node_versions(self, prefix: str = "") -> list[tuple[str, str, int]]:
        """(code, version, since when in µs) of the nodes whose codes start with `prefix`."""
        v = NODE_VERSIONS.c
        q = select(v.code, v.version, v.since_us).order_by(v.code)
        if prefix:
            q = q.where(v.code.startswith(prefix, autoescape=True))
        return [(r.code, r.version, int(r.since_us)) for r in self.conn.execute(q)]

    # -- operator accounts and API clients ------------------------------------------------

    def put_principal(self, name: str, kind: str, roles: list[str], secret: str, at_us: int) -> None:
        row = {"name": name, "kind": kind, "roles": roles, "secret": secret, "disabled": False, "created_at_us": at_us}
        self.conn.execute(insert(PRINCIPALS), row)

    def principal(self, name: str) -> PrincipalRow | None:
        found = rows_as(PrincipalRow, self.conn.execute(select(PRINCIPALS).where(PRINCIPALS.c.name == name)))
        return found[0] if found else None

    def principal_by_secret(self, secret: str) -> PrincipalRow | None:
        q = select(PRINCIPALS).where(PRINCIPALS.c.secret == secret, PRINCIPALS.c.kind == "client")
        found = rows_as(PrincipalRow, self.conn.execute(q))
        return found[0] if found else None

    def principals(self) -> list[PrincipalRow]:
        return rows_as(PrincipalRow, self.conn.execute(select(PRINCIPALS).order_by(PRINCIPALS.c.name)))

    def update_principal(self, name: str, **values: Value) -> int:
        return self.conn.execute(update(PRINCIPALS).where(PRINCIPALS.c.name == name).values(**values)).rowcount
