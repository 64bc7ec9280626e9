"""Alembic environment: run the migrations over SQLAlchemy's async engine (asyncpg driver).

The database is chosen here, in this order: a SQLAlchemy connection the caller put in
``config.attributes["connection"]`` (a sync ``Connection``, e.g. from ``AsyncConnection.run_sync``),
else the ``sqlalchemy.url`` main option set by the caller, else ``$DATABASE_URL``.
This package imports neither ``api`` nor ``db``.
"""

import asyncio
import os
from logging.config import fileConfig

from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import async_engine_from_config

from alembic import context

config = context.config

# Configure logging from alembic.ini only when run from the command line with a file; callers
# that embed alembic (the CLI, tests) keep their own logging set-up.
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

# Hand-written DDL: there is no MetaData to autogenerate from.
target_metadata = None


def database_url() -> str:
    """Return the asyncpg URL to migrate, or raise RuntimeError when none is configured."""
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL", "")
    if not url:
        raise RuntimeError("no database: set DATABASE_URL or the sqlalchemy.url option")
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


def run_migrations_offline() -> None:
    """Emit the migration SQL to stdout (``alembic upgrade head --sql``)."""
    context.configure(
        url=database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    """Run the migrations on one sync connection, in one transaction."""
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    """Open an async engine on the configured URL and run the migrations through it."""
    section = config.get_section(config.config_ini_section, {})
    section["sqlalchemy.url"] = database_url()
    connectable = async_engine_from_config(section, prefix="sqlalchemy.", poolclass=pool.NullPool)
    try:
        async with connectable.connect() as connection:
            await connection.run_sync(do_run_migrations)
            await connection.commit()
    finally:
        await connectable.dispose()


def run_migrations_online() -> None:
    """Migrate through the caller's connection when given, else through a new async engine."""
    connection = config.attributes.get("connection")
    if connection is not None:
        do_run_migrations(connection)
    else:
        asyncio.run(run_async_migrations())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
