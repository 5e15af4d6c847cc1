"""Replication between nodes: streams, cursors, routing of addressed entries, custody.

Empty until the replication issue; `sync/` works on domain entries and cursors, never protobuf.
"""
