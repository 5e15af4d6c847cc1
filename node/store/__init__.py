"""Storage of one node: the only package that imports SQLAlchemy.

`tables` defines the schema, `db` opens SQLite (WAL) or PostgreSQL, `schema` creates and
upgrades it (Alembic, `migrations/`). The SQL is grouped by tables: `log` (entries, tails,
heads, origin keys), `cases` (outlines and their backlog), `catalog` (items, calendars),
`materials` (sealed bundles, files, licences), `trust` (certificates, tokens, alarms, peers)
and `mail` (addressed copies), joined in `repo.Tx` behind `Store.transaction()`.
"""

from node.store.db import open_engine, shown_url
from node.store.repo import Store, Tx

__all__ = ["Store", "Tx", "open_engine", "shown_url"]
