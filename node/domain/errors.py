"""The error hierarchy of yiwang, drawn once.

    YiwangError                      every error we raise on purpose; `exit_code` for the CLI
    ├── OperatorError                the operator's input is wrong; fix the input and retry (2)
    │   ├── InvalidInput             a value fails validation (field, reason)
    │   ├── NotFound                 an item, case or year that does not exist (3)
    │   ├── IllegalTransition        a case command not allowed in the case's state (4)
    │   ├── CatalogRuleViolation     a lower tier changed a standard field, promised > legal (2)
    │   └── ImportRejected           an import file with bad rows; lists (line, reason) (2)
    ├── PeerError                    a remote node's fault; nothing it sent is stored (7)
    │   ├── UnknownIssuer            a chain that does not end at a trusted root, or bad signatures
    │   ├── OutsidePrefix            an issuer certified a code outside its own prefix
    │   ├── CertificateRevoked       a revoked certificate in the chain
    │   ├── CertificateExpired       a certificate outside its validity
    │   ├── BadSignature             an envelope or head whose signature does not verify
    │   ├── Replay                   an envelope seen before or outside the time window
    │   ├── BadToken                 an enrollment token used, expired, unknown or for another code
    │   └── Oversize                 a message larger than allowed
    ├── SetupError                   the node is not initialised or misconfigured (5)
    ├── IntegrityError               stored data fails verification: a broken chain, a bad head
    │                                signature (6); `audit verify` reports the first bad entry
    └── InternalError                a bug of ours; report it (70)

Peer errors (a remote node's fault) join this tree with the federation issue. Messages never
contain personal data: identifiers are masked before they go into an error.
"""

from __future__ import annotations

from collections.abc import Sequence


class YiwangError(Exception):
    """Base of every error yiwang raises on purpose."""

    exit_code: int = 1


class OperatorError(YiwangError):
    """The operator's input is wrong; nothing was changed."""

    exit_code = 2


class InvalidInput(OperatorError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def excerpt(value: str, limit: int = 60) -> str:
    """A caller's value as an error may show it: at most `limit` characters, control characters
    escaped, marked when cut (errors never echo long or raw input)."""
    cut = value[:limit]
    shown = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" if ord(ch) < 256 else "?" for ch in cut)
    return shown + ("…" if len(value) > limit else "")


class NotFound(OperatorError):
    exit_code = 3

    def __init__(self, what: str, key: str) -> None:
        super().__init__(f"no {what} '{excerpt(key)}' on this node")
        self.what = what
        self.key = key


class StateConflict(OperatorError):
    """The request is well formed, but the case's state does not allow it now (gRPC
    FAILED_PRECONDITION; exit code 4)."""

    exit_code = 4


class CaseConflict(StateConflict, InvalidInput):
    """A command whose data contradicts the case as it stands (a material that is not
    outstanding, an offer answered by another node)."""

    def __init__(self, field: str, reason: str) -> None:
        InvalidInput.__init__(self, field, reason)


class IllegalTransition(StateConflict):
    exit_code = 4

    def __init__(self, case_no: str, status: str, command: str, allowed: Sequence[str]) -> None:
        hint = ", ".join(allowed) if allowed else "none (the case is closed)"
        super().__init__(f"case {case_no} is {status}: {command} is not allowed; allowed now: {hint}")
        self.case_no = case_no
        self.status = status
        self.command = command
        self.allowed = tuple(allowed)


class NotCustodian(StateConflict):
    """Only a case's custodian writes it (DESIGN.md section 8)."""

    exit_code = 4

    def __init__(self, case_no: str, custodian: str, writer: str) -> None:
        super().__init__(f"case {case_no} is in the custody of {custodian}; node {writer} may not change it")
        self.case_no, self.custodian, self.writer = case_no, custodian, writer


class Forbidden(OperatorError):
    """This node, or this operator, may not do that (gRPC PERMISSION_DENIED; exit code 8)."""

    exit_code = 8


class Unauthenticated(OperatorError):
    """No valid credentials (gRPC UNAUTHENTICATED; exit code 8)."""

    exit_code = 8


class CatalogRuleViolation(OperatorError):
    def __init__(self, item_code: str, reason: str) -> None:
        super().__init__(f"item {item_code}: {reason}")
        self.item_code = item_code
        self.reason = reason


class ImportRejected(OperatorError):
    """An import with bad rows; nothing of it was written."""

    def __init__(self, source: str, problems: Sequence[tuple[int, str]], unit: str = "line") -> None:
        first = "; ".join(f"{unit} {line}: {why}" for line, why in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"{source}: {len(problems)} bad row(s), nothing imported: {first}{more}")
        self.source = source
        self.problems = tuple(problems)


class PeerError(YiwangError):
    """A remote node sent something we refuse; it is logged and raises an alarm."""

    exit_code = 7


class UnknownIssuer(PeerError):
    pass


class OutsidePrefix(PeerError):
    pass


class CertificateRevoked(PeerError):
    pass


class CertificateExpired(PeerError):
    pass


class BadSignature(PeerError):
    pass


class Replay(PeerError):
    pass


class BadToken(PeerError):
    pass


class Oversize(PeerError):
    pass


class StreamsBehindParent(PeerError):
    """The parent holds more of this node's own streams than this node does: it was restored
    from an older backup or lost its disk, and what it writes now would fork its own chain."""


class Misrouted(PeerError):
    """An addressed entry arrived from a node it must not come from (it would loop)."""


class SetupError(YiwangError):
    exit_code = 5


class Recovering(SetupError):
    """This node is getting its own entries back from its parent (after a restore or a lost
    disk), or has not yet asked its parent since a restore (`upto` None): writing to `stream`
    now would fork its chain."""

    def __init__(self, stream: str, upto: int | None) -> None:
        self.stream, self.upto = stream, upto
        if upto is None:
            why = (
                "this node was restored from a backup and has not yet asked its parent what it holds of "
                "this node's streams: start `yiwang run` (or `yiwang sync`) with the parent reachable, then try again"
            )
        else:
            why = (
                f"this node is getting its own {stream} stream back from its parent (up to entry {upto}): "
                "`yiwang sync` waits until it has; try again when `yiwang status` no longer says so"
            )
        super().__init__(why)


class IntegrityError(YiwangError):
    exit_code = 6


class InternalError(YiwangError):
    exit_code = 70


def mask(value: str, keep: int = 4) -> str:
    """Mask an identifier for messages: only its length and last `keep` characters show."""
    if len(value) <= keep:
        return "*" * len(value)
    return "*" * (len(value) - keep) + value[-keep:]
