"""Trust and transport: keys, signatures, sealing, the protobuf conversion module, and (later)
certificates, enrollment, envelopes and gRPC links."""
