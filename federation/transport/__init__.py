"""Transport: gRPC servers and links between nodes, enrollment and renewal. Moves envelopes
between sockets and the node's replication and mail; decides nothing about what to send."""
