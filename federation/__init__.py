"""Trust and transport, as two layers (DESIGN.md section 2).

`federation.wire`: the entry codec (the one door to the generated protobuf code), keys and
signatures, sealing, certificates, identities, envelopes and licences; it imports only the
domain and the generated code. `federation.transport`: gRPC links, enrollment, bootstrap and
renewal, thin adapters between sockets and sync's state machines.
"""
