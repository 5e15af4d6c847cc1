"""The one mapping from yiwang errors to gRPC status codes, for every servicer."""

from __future__ import annotations

from typing import NoReturn

import grpc

from node.domain.errors import (
    BadSignature,
    BadToken,
    CertificateExpired,
    CertificateRevoked,
    Forbidden,
    IntegrityError,
    InternalError,
    Misrouted,
    NotFound,
    OperatorError,
    OutsidePrefix,
    Oversize,
    PeerError,
    Replay,
    SetupError,
    StateConflict,
    Unauthenticated,
    UnknownIssuer,
    YiwangError,
)

# Most specific first: the first class an error is an instance of decides its status.
STATUS_OF: tuple[tuple[type[YiwangError], grpc.StatusCode], ...] = (
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (StateConflict, grpc.StatusCode.FAILED_PRECONDITION),
    (Forbidden, grpc.StatusCode.PERMISSION_DENIED),
    (Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),  # IllegalTransition, NotCustodian, CaseConflict
    (BadToken, grpc.StatusCode.PERMISSION_DENIED),
    (UnknownIssuer, grpc.StatusCode.UNAUTHENTICATED),
    (OutsidePrefix, grpc.StatusCode.UNAUTHENTICATED),
    (CertificateRevoked, grpc.StatusCode.UNAUTHENTICATED),
    (CertificateExpired, grpc.StatusCode.UNAUTHENTICATED),
    (BadSignature, grpc.StatusCode.UNAUTHENTICATED),
    (Replay, grpc.StatusCode.ABORTED),
    (Oversize, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (Misrouted, grpc.StatusCode.FAILED_PRECONDITION),
    (PeerError, grpc.StatusCode.UNAUTHENTICATED),
    (OperatorError, grpc.StatusCode.INVALID_ARGUMENT),
    (SetupError, grpc.StatusCode.UNAVAILABLE),
    (IntegrityError, grpc.StatusCode.DATA_LOSS),
    (InternalError, grpc.StatusCode.INTERNAL),
    (YiwangError, grpc.StatusCode.UNKNOWN),
)


def status_of(error: YiwangError) -> grpc.StatusCode:
    return next(code for cls, code in STATUS_OF if isinstance(error, cls))


def abort_with(context: grpc.ServicerContext, error: YiwangError) -> NoReturn:
    """End the RPC with the error's status and its one-line message."""
    context.abort(status_of(error), f"{type(error).__name__}: {error}")
    raise AssertionError("grpc context.abort raises")  # pragma: no cover
