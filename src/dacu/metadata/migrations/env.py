"""Alembic environment: runs on the engine dacu hands over (no alembic.ini, works when installed)."""

from __future__ import annotations

from alembic import context

from dacu.metadata.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes["engine"]
    schema = config.attributes.get("schema")
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table_schema=schema,
            render_as_batch=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
