"""`mar export` and `mar import`: the REST exports and imports from the command line.

Both talk to the database directly (DATABASE_URL), as the operator of the service, and show a
progress bar on a terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import IO, Any

from tqdm import tqdm

from api.settings import Settings

KINDS = ("zones", "incidents")


def _say(text: str) -> None:
    sys.stderr.write(text + "\n")


async def _export(settings: Settings, args: argparse.Namespace) -> int:
    from api.services import exports
    from db.pool import SingleConnectionSource, connect

    if args.format in ("gpkg", "kml"):
        return await _export_file(settings, args)

    # The operator reads everything but casualties' names unless asked for them.
    access = exports.Access(restricted=True, personal=args.personal_data)
    if args.format == "csv":
        export = exports.csv_export(args.kind, [], [], hxl=not args.no_hxl, access=access)
    else:
        export = exports.geojson_export(args.kind, [], [], access=access)
    conn = await connect(settings.require_database_url())
    try:
        source = SingleConnectionSource(conn)
        total = await exports.count(source, export)
        to_stdout = args.output == "-"
        with (
            _output(args.output) as out,
            tqdm(
                total=total,
                desc=f"export {args.kind}",
                unit=" records",
                file=sys.stderr,
                disable=not sys.stderr.isatty(),
            ) as bar,
        ):
            written = [0]

            def advance(rows: int) -> None:
                written[0] += rows
                bar.update(rows)

            async for chunk in exports.stream(source, export, on_rows=advance):
                out.write(chunk)
    finally:
        await conn.close()
    if not to_stdout:
        _say(f"{written[0]} {args.kind} written to {args.output} ({args.format})")
    return 0


async def _export_file(settings: Settings, args: argparse.Namespace) -> int:
    """A GeoPackage or KML export: written to a temporary file beside the output, then renamed
    into place (or copied to standard output), so a failed export leaves no half file."""
    import shutil
    import tempfile

    from api.services import exports, file_exports
    from db.pool import SingleConnectionSource, connect

    access = exports.Access(restricted=True, personal=False)
    export = file_exports.FileExport(args.kind, args.format, [], [], access)
    to_stdout = args.output == "-"
    directory = None if to_stdout else Path(args.output).resolve().parent
    handle, name = tempfile.mkstemp(prefix="mar-export-", suffix=f".{args.format}", dir=directory)
    os.close(handle)
    target = Path(name)
    conn = await connect(settings.require_database_url())
    try:
        with tqdm(
            desc=f"export {args.kind}",
            unit=" records",
            file=sys.stderr,
            disable=not sys.stderr.isatty(),
        ) as bar:

            def advance(rows: int) -> None:
                bar.update(rows)

            written = await file_exports.write_file(
                SingleConnectionSource(conn),
                export,
                target,
                max_bytes=settings.export_file_max_bytes,
                on_rows=advance,
            )
    except file_exports.ExportTooLarge as exc:
        _say(f"mar export: {exc} (MAR_EXPORT_FILE_MAX_BYTES)")
        return 1
    finally:
        await conn.close()
    if to_stdout:
        with target.open("rb") as source:
            shutil.copyfileobj(source, sys.stdout.buffer)
        target.unlink()
        return 0
    target.replace(args.output)
    _say(f"{written} {args.kind} written to {args.output} ({args.format})")
    return 0


def _output(path: str) -> AbstractContextManager[IO[bytes]]:
    """The file to write, or standard output for '-' (left open)."""
    if path == "-":
        return nullcontext(sys.stdout.buffer)
    return Path(path).open("wb")


def _load(path: str, kind: str) -> Any:
    """The JSON of the file; BadUserInput saying what format imports read when it is not."""
    from api.services.imports import decode_collection

    source: IO[bytes]
    with sys.stdin.buffer if path == "-" else Path(path).open("rb") as source:
        return decode_collection(source.read(), kind)


async def _import(settings: Settings, args: argparse.Namespace) -> int:
    from api.errors import BadUserInput
    from api.services.imports import run_import
    from db.pool import connect

    try:
        body = _load(args.file, args.kind)
    except OSError as exc:
        _say(f"mar import: cannot read {args.file}: {exc}")
        return 2
    except BadUserInput as exc:
        _say(f"mar import: {args.file}: {exc.fields[0].message}")
        return 2
    features = body.get("features") if isinstance(body, dict) else None
    total = len(features) if isinstance(features, list) else None
    cap = settings.max_casualties_per_incident
    conn = await connect(settings.require_database_url(), max_casualties_per_incident=cap)
    try:
        with tqdm(
            total=total,
            desc=f"import {args.kind}",
            unit=" features",
            file=sys.stderr,
            disable=not sys.stderr.isatty(),
        ) as bar:

            def advance() -> None:
                bar.update(1)

            report = await run_import(
                conn,
                args.kind,
                body,
                dry_run=args.dry_run,
                on_feature=advance,
                max_casualties=cap,
            )
    except BadUserInput as exc:
        _say(f"mar import: {exc.message}")
        return 1
    finally:
        await conn.close()
    for error in report.errors:
        _say(f"feature {error.index}: {error.field}: {error.message}")
    if report.errors:
        features_at_fault = len({e.index for e in report.errors})
        _say(f"{features_at_fault} feature(s) refused; nothing was imported")
        return 1
    verb = "would be" if args.dry_run else "were"
    sys.stdout.write(
        f"{report.created} {args.kind} {verb} created, {report.updated} {verb} updated, "
        f"{report.unchanged} unchanged"
        + (" (dry run: nothing written)" if args.dry_run else "")
        + "\n"
    )
    return 0


def _run_export(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_export(settings, args))


def _run_import(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_import(settings, args))


def add_commands(commands: Any) -> None:
    """Add `export` and `import` to the subcommands of `mar`."""
    export = commands.add_parser("export", help="write zones or incidents to a file")
    export.add_argument("kind", choices=KINDS)
    export.add_argument("--format", choices=("csv", "geojson", "gpkg", "kml"), default="geojson")
    export.add_argument("-o", "--output", required=True, help="the file to write ('-': stdout)")
    export.add_argument("--no-hxl", action="store_true", help="CSV without the HXL hashtag row")
    export.add_argument(
        "--personal-data", action="store_true", help="include casualties' names and notes"
    )
    export.set_defaults(run=_run_export)

    imported = commands.add_parser(
        "import", help="upsert zones or incidents by code from a GeoJSON file (all or nothing)"
    )
    imported.add_argument("kind", choices=KINDS)
    imported.add_argument("file", help="a GeoJSON FeatureCollection ('-': stdin)")
    imported.add_argument("--dry-run", action="store_true", help="check everything, write nothing")
    imported.set_defaults(run=_run_import)
