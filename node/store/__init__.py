"""Storage of one node: the only package that imports sqlmodel or SQLAlchemy.

`tables` defines the schema, `db` opens SQLite (WAL) or PostgreSQL, `repo` holds every SQL
statement the node runs, behind `Store.transaction()`.
"""

from node.store.db import open_engine
from node.store.repo import Store, Tx

__all__ = ["Store", "Tx", "open_engine"]
