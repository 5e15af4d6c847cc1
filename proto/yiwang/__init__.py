"""yiwang wire contract: the generated protobuf packages live in `yiwang.v1`."""
