"""Alembic's environment for a node's database: migrations run on the connection that
node.store.schema hands over (config.attributes["connection"]), never on a URL of their own."""

from __future__ import annotations

from alembic import context

from node.store.tables import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
