"""Alembic environment: the URL comes from the same settings as the app."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from monitors.archive.db import connect_args, database_url
from monitors.archive.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or database_url()


def run_migrations_offline() -> None:
    """``alembic upgrade head --sql``: the SQL as a script. The named paramstyle (Alembic's own
    template) keeps a ``%`` as written, where psycopg's would double it (``format('%%s')``)."""
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = _url()
    engine = create_engine(url, poolclass=pool.NullPool, connect_args=connect_args(url))
    with engine.connect() as connection:
        # Concurrent `veille run` processes must not migrate at the same time.
        # The lock is the session's: end the transaction that took it, so that Alembic's own
        # transaction is committed before the lock is released below. Unlocking first let the
        # next process in while the migration was still uncommitted: it did not see
        # alembic_version and failed creating it (UniqueViolation on pg_type).
        connection.exec_driver_sql("SELECT pg_advisory_lock(724100)")
        connection.commit()
        try:
            context.configure(connection=connection, target_metadata=target_metadata)
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
        except BaseException:
            # An aborted transaction refuses the unlock below and would hide the real error;
            # the session-level lock survives the rollback.
            connection.rollback()
            raise
        finally:
            connection.exec_driver_sql("SELECT pg_advisory_unlock(724100)")
            connection.commit()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
