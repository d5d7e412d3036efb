"""Alembic environment: desk's metadata, and the connection handed in by desk's own code."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

import desk.models
from desk.infra.database import create_engine

target_metadata = desk.models.metadata
config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as fresh:
        _run(fresh)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("desk migrations run online only: use `desk db upgrade`")
run_migrations_online()
