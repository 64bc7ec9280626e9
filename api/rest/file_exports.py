"""GET /exports/{zones|incidents}.gpkg (GeoPackage) and /exports/{zones|incidents}.kml (KML).

They take the filters of the OGC items endpoint, as the GeoJSON export does. The file is written
whole before its first byte is sent (api/services/file_exports.py), so the answer has a
Content-Length, a refusal (bad filter, file over MAR_EXPORT_FILE_MAX_BYTES: QUERY_TOO_COMPLEX)
is a problem document, and no database connection is held while the client reads. At most
MAR_EXPORT_FILES_AT_ONCE are written at once per process (each may take up to the file limit in
the temporary directory); one more is RATE_LIMITED (429, Retry-After).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import IO

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from api.errors import NotFoundError, Problems, QueryTooComplex
from api.rest import filters
from api.rest.exports import access_of, caller_role
from api.rest.problems import problem
from api.services import file_exports
from api.services.file_exports import ExportTooLarge, FileExport
from db.queries.sql import Params

UNPAGED = frozenset({"limit", "offset", "f"})


class FileStream(StreamingResponse):
    """A streamed open file, closed whatever ends the response (a disconnect too, even before
    the first chunk)."""

    def __init__(self, handle: IO[bytes], *, media_type: str, headers: dict[str, str]) -> None:
        self.reader: AsyncGenerator[bytes, None] = file_exports.chunks(handle)
        super().__init__(self.reader, media_type=media_type, headers=headers)
        self.handle = handle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with aclosing(self.reader):
                await super().__call__(scope, receive, send)
        finally:
            self.handle.close()


def _selection(request: Request, kind: str) -> tuple[list[str], list[object], str]:
    """The rows the export writes: the items endpoint's filters; paging parameters refused."""
    problems = Problems(prefix="")
    for name in sorted(UNPAGED & set(request.query_params)):
        problems.add(name, "an export writes every matching record; it has no pages")
    problems.raise_if_any()
    layer = filters.layer_of(kind)
    wanted = filters.item_filter(layer, request.query_params, caller_role(request))
    params = Params()
    conditions = filters.where(layer, wanted, params)
    return conditions, params.values, filters.order(layer, wanted)


async def export_file(request: Request) -> Response:
    """A GeoPackage or KML export of zones or incidents, sent once it is written."""
    kind: str = request.path_params["kind"]
    fmt = request.url.path.rsplit(".", 1)[-1]
    if kind not in file_exports.KINDS:
        raise NotFoundError(
            f"there is no export {kind}.{fmt}; there are "
            + ", ".join(f"{k}.{fmt}" for k in file_exports.KINDS)
        )
    conditions, params, order = _selection(request, kind)
    export = FileExport(kind, fmt, conditions, params, access_of(request), order)
    settings = request.app.state.settings
    state = request.app.state
    running: int = getattr(state, "file_exports_running", 0)
    if running >= settings.export_files_at_once:
        refused = problem(
            429,
            "RATE_LIMITED",
            f"{running} GeoPackage/KML exports are being written (MAR_EXPORT_FILES_AT_ONCE); "
            "try again in a few seconds",
        )
        refused.headers["Retry-After"] = "5"
        return refused
    state.file_exports_running = running + 1
    target = file_exports.temporary_path(f".{fmt}")
    try:
        await file_exports.write_file(
            state.db, export, target, max_bytes=settings.export_file_max_bytes
        )
    except ExportTooLarge as exc:
        raise QueryTooComplex(
            f"this export would be larger than {exc.max_bytes} bytes "
            "(MAR_EXPORT_FILE_MAX_BYTES); narrow it with bbox, datetime or filter"
        ) from None
    finally:
        state.file_exports_running -= 1
    handle, size = file_exports.open_unlinked(target)
    return FileStream(
        handle,
        media_type=file_exports.MEDIA_TYPES[fmt],
        headers={
            "Content-Length": str(size),
            "Content-Disposition": f'attachment; filename="{kind}.{fmt}"',
            "Cache-Control": "no-store",
        },
    )
