"""Generated protobuf and gRPC code for the yiwang wire contract, version 1.

Written only by `scripts/genproto.py`; edit the .proto files beside this module instead.
"""
