"""Operator accounts and API clients of a node (issue 10): `yiwang users`.

A user signs in with a password, kept as an Argon2id hash (argon2-cffi); an API client (window
software, a department system) presents a bearer token of 256 random bits, kept as its SHA-256
(a token is not guessable, so a fast hash suffices and each call costs microseconds, not an
Argon2 computation). Each has roles (node.domain.roles). A disabled principal is refused at
once: the token cache holds an answer for a few seconds only.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import threading
import time
from typing import TYPE_CHECKING

from node import logs
from node.domain.bounds import check
from node.domain.errors import InvalidInput, NotFound, Unauthenticated
from node.domain.roles import Principal, Role
from node.services.ports import Clock
from node.store import Store

if TYPE_CHECKING:
    from argon2 import PasswordHasher

MIN_PASSWORD = 8
TOKEN_PREFIX = "ywc1."
CACHE_SECONDS = 5.0


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class PrincipalService:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store, self.clock = store, clock
        self.log = logs.get("principals")
        self._tokens: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    @functools.cached_property
    def hasher(self) -> PasswordHasher:
        """Argon2id, loaded when a password is first set or checked (API clients and a
        village's agents signed in by token never load it)."""
        from argon2 import PasswordHasher

        return PasswordHasher()

    def _now_us(self) -> int:
        return int(self.clock().timestamp() * 1_000_000)

    def add_user(self, name: str, roles: frozenset[Role], password: str) -> Principal:
        """A new operator account; InvalidInput for a taken name or a short password."""
        self._check_name(name)
        if len(password) < MIN_PASSWORD:
            raise InvalidInput("password", f"at least {MIN_PASSWORD} characters")
        secret = self.hasher.hash(password)
        with self.store.transaction() as tx:
            if tx.principal(name) is not None:
                raise InvalidInput("NAME", "an account or client of that name exists")
            tx.put_principal(name, "user", sorted(roles), secret, self._now_us())
        self.log.info("user_added", name=name, roles=sorted(roles))
        return Principal(name, roles, "user")

    def add_client(self, name: str, roles: frozenset[Role]) -> tuple[Principal, str]:
        """A new API client and its token, shown this once (only its hash is kept)."""
        self._check_name(name)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.store.transaction() as tx:
            if tx.principal(name) is not None:
                raise InvalidInput("NAME", "an account or client of that name exists")
            tx.put_principal(name, "client", sorted(roles), _token_hash(token), self._now_us())
        self.log.info("client_added", name=name, roles=sorted(roles))
        return Principal(name, roles, "client"), token

    @staticmethod
    def _check_name(name: str) -> None:
        check("NAME", name, "actor")
        if not name.strip() or name.startswith("admin:") or name != name.strip():
            raise InvalidInput("NAME", "a name without leading or trailing spaces, not starting with admin:")

    def list(self) -> list[tuple[Principal, bool]]:
        """Every account and client with whether it is disabled."""
        with self.store.read() as tx:
            rows = tx.principals()
        return [(Principal(r.name, frozenset(Role(x) for x in r.roles), r.kind), r.disabled) for r in rows]

    def disable(self, name: str) -> None:
        with self.store.transaction() as tx:
            if tx.update_principal(name, disabled=True) == 0:
                raise NotFound("account", name)
        with self._lock:
            self._tokens.clear()
        self.log.info("principal_disabled", name=name)

    def passwd(self, name: str, password: str) -> None:
        if len(password) < MIN_PASSWORD:
            raise InvalidInput("password", f"at least {MIN_PASSWORD} characters")
        with self.store.transaction() as tx:
            row = tx.principal(name)
            if row is None or row.kind != "user":
                raise NotFound("account", name)
            tx.update_principal(name, secret=self.hasher.hash(password))
        self.log.info("password_changed", name=name)

    def get(self, name: str) -> Principal:
        """An enabled principal by name (the CLI acting for an operator)."""
        with self.store.read() as tx:
            row = tx.principal(name)
        if row is None or row.disabled:
            raise NotFound("enabled account", name)
        return Principal(row.name, frozenset(Role(x) for x in row.roles), row.kind)

    def stamp(self, name: str) -> str:
        """What a web session remembers of the account's credentials: it changes with the
        password (a new one ends the sessions made with the old); "" for no such account."""
        with self.store.read() as tx:
            row = tx.principal(name) if len(name) <= 64 else None
        if row is None or row.disabled:
            return ""
        return hashlib.sha256(row.secret.encode()).hexdigest()[:32]

    def login(self, name: str, password: str) -> Principal:
        """The user whose password this is; Unauthenticated (the same for every failure)."""
        from argon2.exceptions import InvalidHashError, VerificationError

        with self.store.read() as tx:
            row = tx.principal(name) if len(name) <= 64 else None
        try:
            if row is None or row.kind != "user" or row.disabled:
                raise VerificationError()
            self.hasher.verify(row.secret, password)
        except (VerificationError, InvalidHashError):
            raise Unauthenticated("unknown account, wrong password, or the account is disabled") from None
        return Principal(row.name, frozenset(Role(x) for x in row.roles), "user")

    def by_token(self, token: str) -> Principal:
        """The API client presenting `token`; Unauthenticated for any other."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
            raise Unauthenticated("no valid client token (authorization: Bearer ywc1....)")
        now = time.monotonic()
        with self._lock:
            hit = self._tokens.get(token)
        if hit is None or now - hit[0] > CACHE_SECONDS:
            with self.store.read() as tx:
                row = tx.principal_by_secret(_token_hash(token))
            found = None
            if row is not None and not row.disabled:
                found = Principal(row.name, frozenset(Role(x) for x in row.roles), "client")
            hit = (now, found)
            with self._lock:
                if len(self._tokens) > 10_000:
                    self._tokens.clear()
                self._tokens[token] = hit
        if hit[1] is None:
            raise Unauthenticated("no valid client token (authorization: Bearer ywc1....)")
        return hit[1]
