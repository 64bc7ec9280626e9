"""`mar documents`: the trusted documents GraphQL runs by id (api/graphql/persisted.py)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from api.settings import Settings


def read_documents(path: Path) -> list[tuple[str, str | None]]:
    """(text, name) of each document in a file: a .graphql file is one document; a JSON file is
    Apollo's persisted query manifest or Relay's map of id to text (ids are checked)."""
    from api.graphql.persisted import document_id

    text = path.read_text(encoding="utf-8")
    if path.suffix != ".json":
        return [(text, path.stem)]
    data: Any = json.loads(text)
    if isinstance(data, dict) and isinstance(data.get("operations"), list):
        pairs = [(op.get("id"), op.get("body"), op.get("name")) for op in data["operations"]]
    elif isinstance(data, dict):
        pairs = [(key, body, None) for key, body in data.items()]
    else:
        raise ValueError("a JSON file of documents is a manifest or an object of id: text")
    found: list[tuple[str, str | None]] = []
    for ident, body, name in pairs:
        if not isinstance(body, str):
            raise ValueError(f"the document {ident!r} has no text")
        if isinstance(ident, str) and document_id(body).removeprefix("sha256:") != (
            ident.removeprefix("sha256:")
        ):
            raise ValueError(f"the id {ident!r} is not the SHA-256 of its text")
        found.append((body, name if isinstance(name, str) else None))
    return found


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    from api.graphql.persisted import document_id
    from db.pool import connect
    from db.queries import documents as documents_sql

    conn = await connect(settings.require_database_url())
    try:
        if args.documents_command == "add":
            try:
                found = read_documents(Path(args.file))
            except (OSError, ValueError) as exc:
                sys.stderr.write(f"mar documents: {args.file}: {exc}\n")
                return 1
            async with conn.transaction():
                for body, name in found:
                    await conn.execute(documents_sql.ADD, document_id(body), body, name)
                    sys.stdout.write(document_id(body) + "\n")
        elif args.documents_command == "remove":
            done = await conn.execute(documents_sql.REMOVE, args.id)
            if done.endswith(" 0"):
                sys.stderr.write(f"mar documents: no document {args.id}\n")
                return 1
        else:
            for row in await conn.fetch(documents_sql.LIST):
                added = f"{row['added_at']:%Y-%m-%d %H:%M}"
                sys.stdout.write(f"{row['id']}  {row['name'] or '-'}  {added}\n")
    finally:
        await conn.close()
    return 0


def _documents(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_run(settings, args))


def add_commands(commands: Any) -> None:
    """Add `mar documents add|list|remove` to the CLI's subcommands."""
    documents = commands.add_parser(
        "documents", help="trusted GraphQL documents: add, list, remove"
    )
    sub = documents.add_subparsers(dest="documents_command", required=True)
    add = sub.add_parser("add", help="register the documents of a .graphql or .json file")
    add.add_argument("file", help="a .graphql file, or a JSON manifest of documents")
    sub.add_parser("list", help="every trusted document's id and name")
    remove = sub.add_parser("remove", help="withdraw a document")
    remove.add_argument("id", help="its id, sha256:<hex>")
    documents.set_defaults(run=_documents)
