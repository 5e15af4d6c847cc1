"""Client request ids (issue 10): a FileCase or ActOnCase a client names with its own id is
carried out once; a retry with the same id returns the first result and writes nothing, and the
same id on a different request is refused. The check runs after the writer locked its stream,
so two retries racing each other are serialised and the second finds the first's row.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from node.domain.bounds import check
from node.domain.errors import InvalidInput
from node.store import Tx


@dataclass(frozen=True)
class ClientRequest:
    request_id: str
    rpc: str
    digest: bytes  # of what was asked, without personal data

    @classmethod
    def of(cls, request_id: str, rpc: str, *asked: str) -> ClientRequest | None:
        """The request to carry out once, or None when the client named no id."""
        if not request_id:
            return None
        check("request_id", request_id)
        return cls(request_id, rpc, hashlib.sha256("\x1f".join((rpc, *asked)).encode()).digest())

    def done_before(self, tx: Tx) -> str | None:
        """The case number the first request with this id made or changed; None if there was none."""
        found = tx.client_request(self.request_id)
        if found is None:
            return None
        rpc, digest, case_no = found
        if (rpc, digest) != (self.rpc, self.digest):
            raise InvalidInput("request_id", "was used for another request: give each new request a new id")
        return case_no

    def record(self, tx: Tx, case_no: str, at_us: int) -> None:
        tx.put_client_request(self.request_id, self.rpc, self.digest, case_no, at_us)
