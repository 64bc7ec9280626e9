"""The `mar` command: serve, migrate, seed, keys, schema."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from api import cli_data, cli_documents
from api.settings import Settings, SettingsError

if TYPE_CHECKING:
    from api.services.keys import KeyInfo

log = logging.getLogger("mar.cli")


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app
    from api.connections import AbortableConnections
    from api.logs import configure_logging

    configure_logging(settings.log_level, json_lines=settings.log_json)
    settings.require_database_url()
    host, port = args.host or settings.host, args.port or settings.port
    taken = _port_taken(host, port)
    if taken:
        print(
            f"mar serve: cannot listen on {host}:{port}: {taken}. Another server may use it: "
            f"stop it, or choose another port with MAR_PORT (e.g. MAR_PORT={port + 1} make run)",
            file=sys.stderr,
        )
        return 1
    uvicorn.run(
        AbortableConnections(create_app(settings)),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        # X-Forwarded-* are read by the app, from MAR_TRUSTED_PROXIES only (api/proxies.py).
        proxy_headers=False,
    )
    return 0


def _port_taken(host: str, port: int) -> str:
    """Why `host:port` cannot be listened on (as uvicorn binds it), or "" when it can."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        return str(exc)
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            probe.bind(address)
        except OSError as exc:
            return exc.strerror or str(exc)
    return ""


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


async def _keys_async(settings: Settings, args: argparse.Namespace) -> int:
    import getpass

    from api.auth import Caller, acting_as
    from api.errors import ApiError
    from api.services import keys as key_service
    from db.pool import connect

    conn = await connect(settings.require_database_url())
    # The audit log names the operator who ran the command.
    operator = Caller(role="admin", name=f"cli:{getpass.getuser()}")
    try:
        with acting_as(operator):
            if args.keys_command == "create":
                _info, secret = await key_service.create_key(conn, args.name, args.role)
                print(f"key {args.name!r} ({args.role}) created; it is shown once", file=sys.stderr)
                print(secret)
            elif args.keys_command == "rotate":
                info, secret = await key_service.rotate_key(conn, args.name)
                print(
                    f"key {info.name!r} ({info.role}) has a new secret, shown once; "
                    "the old one is revoked",
                    file=sys.stderr,
                )
                print(secret)
            elif args.keys_command == "revoke":
                info = await key_service.revoke_key(conn, args.name)
                print(f"key {info.name!r} revoked at {info.revoked_at:%Y-%m-%d %H:%M:%S%z}")
            else:
                _print_keys(await key_service.list_keys(conn))
    except ApiError as exc:
        print(f"mar keys: {exc.message}", file=sys.stderr)
        return 1
    finally:
        await conn.close()
    return 0


def _print_keys(keys: Sequence[KeyInfo]) -> None:
    def when(moment: datetime | None) -> str:
        return f"{moment:%Y-%m-%d %H:%M}" if moment else "-"

    rows = [("NAME", "ROLE", "KEY", "CREATED", "LAST USED", "REVOKED", "PERSONAL READS")]
    for k in keys:
        rows.append(
            (
                k.name,
                k.role,
                f"{k.prefix}…",
                when(k.created_at),
                when(k.last_used_at),
                when(k.revoked_at),
                str(k.personal_data_reads),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def _keys(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_keys_async(settings, args))


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

    keys = commands.add_parser("keys", help="API keys: create, list, revoke, rotate")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    create = key_commands.add_parser("create", help="make a key; prints only its secret")
    create.add_argument("--name", required=True, help="who or what uses the key")
    create.add_argument("--role", required=True, choices=["public", "partner", "editor", "admin"])
    key_commands.add_parser("list", help="every key, without secrets")
    revoke = key_commands.add_parser("revoke", help="refuse a key from now on")
    revoke.add_argument("name", help="the key's name")
    rotate = key_commands.add_parser(
        "rotate", help="a new secret for a key (same name and role); the old one is revoked"
    )
    rotate.add_argument("name", help="the key's name")
    keys.set_defaults(run=_keys)

    cli_data.add_commands(commands)  # export, import
    cli_documents.add_commands(commands)  # trusted GraphQL documents

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
