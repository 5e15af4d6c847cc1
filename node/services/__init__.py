"""Use cases of one node: each public method validates, then writes its log entries and derived
rows in one transaction, or raises and writes nothing."""
