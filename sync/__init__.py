"""The replication protocol as pure rules and state machines on domain entries (no I/O).

`routing` decides where an entry goes (a function of division codes), `batches` how entries
travel and the check a receiver makes before applying one; cursors (how far each stream was
received) are domain values in `node.domain.cursors`. sync/ never imports protobuf, gRPC or the
database; the import contract in pyproject.toml keeps it so.
"""
