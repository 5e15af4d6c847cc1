"""Wire and trust: bytes on the wire and the proofs they carry. Imports only `node.domain` and
the generated code (`yiwang.v1`); never storage, services, sync or transport."""
