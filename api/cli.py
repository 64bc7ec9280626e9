"""The `mar` command: serve, migrate, seed, schema."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from api import cli_data
from api.settings import Settings, SettingsError

log = logging.getLogger("mar.cli")


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app
    from api.logs import configure_logging

    configure_logging(settings.log_level, json_lines=settings.log_json)
    settings.require_database_url()
    uvicorn.run(
        create_app(settings),
        host=args.host or settings.host,
        port=args.port or settings.port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
    )
    return 0


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from api.migrations import head_revision, upgrade

    upgrade(settings.alembic_ini, settings.require_database_url(), args.revision)
    print(f"database migrated to {args.revision} ({head_revision(settings.alembic_ini)})")
    return 0


async def _seed_demo(settings: Settings) -> int:
    from api.demo import seed_demo
    from db.pool import connect

    conn = await connect(settings.require_database_url())
    try:
        result = await seed_demo(conn, show_progress=sys.stderr.isatty())
    finally:
        await conn.close()
    if result.created:
        print(f"demo data written: {result.summary()}")
    else:
        print("demo data already present; nothing changed")
    return 0


def _seed(settings: Settings, args: argparse.Namespace) -> int:
    if not args.demo:
        print("mar seed: say what to seed: --demo", file=sys.stderr)
        return 2
    return asyncio.run(_seed_demo(settings))


def _schema(_settings: Settings, _args: argparse.Namespace) -> int:
    from api.graphql.schema import build_schema

    sys.stdout.write(build_schema().as_str() + "\n")
    return 0


def parser() -> argparse.ArgumentParser:
    """Return the argument parser of `mar`."""
    top = argparse.ArgumentParser(prog="mar", description="Mine Action Records")
    commands = top.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the API (MAR_HOST, MAR_PORT)")
    serve.add_argument("--host", help="address to listen on (default: MAR_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default: MAR_PORT or 8000)")
    serve.set_defaults(run=_serve)

    migrate = commands.add_parser("migrate", help="upgrade the database schema")
    migrate.add_argument("revision", nargs="?", default="head", help="target (default: head)")
    migrate.set_defaults(run=_migrate)

    seed = commands.add_parser("seed", help="load data into an empty database")
    seed.add_argument("--demo", action="store_true", help="the synthetic demo data set")
    seed.set_defaults(run=_seed)

    cli_data.add_commands(commands)  # export, import

    schema = commands.add_parser("schema", help="print the GraphQL schema (SDL)")
    schema.set_defaults(run=_schema)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `mar` command; bad settings end in a one-line message and exit code 2."""
    args = parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        code: int = args.run(settings, args)
    except SettingsError as exc:
        print(f"mar: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
