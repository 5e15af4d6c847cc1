"""Replication between nodes: routing, cursors and batches as pure rules on domain entries.

`routing` decides where an entry goes (a function of division codes), `cursors` how far each
stream was received, `batches` how entries travel and the check a receiver makes before
applying them. sync/ never imports protobuf, gRPC or the database (tests/test_architecture.py);
federation/ carries what sync/ decides. The senders and receivers on links come with the
replication issue.
"""
