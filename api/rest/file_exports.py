"""GET /exports/{zones|incidents}.gpkg (GeoPackage) and /exports/{zones|incidents}.kml (KML).

They take the filters of the OGC items endpoint, as the GeoJSON export does. The file is written
whole before its first byte is sent (api/services/file_exports.py), so the answer has a
Content-Length, a refusal (bad filter, file over MAR_EXPORT_FILE_MAX_BYTES: QUERY_TOO_COMPLEX)
is a problem document, and no database connection is held while the client reads. They share the
streamed exports' slots (MAR_EXPORTS_PER_CLIENT, MAR_EXPORTS_MAX: one more is RATE_LIMITED, 429
with Retry-After) and their time for a client to accept each chunk (MAR_EXPORT_SEND_TIMEOUT).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import IO

from starlette.requests import Request
from starlette.responses import Response

from api.errors import NotFoundError, Problems, QueryTooComplex
from api.ratelimit import bucket_key
from api.rest import filters
from api.rest.export_stream import ExportResponse
from api.rest.exports import RETRY_AFTER_S, access_of, caller_role, export_slots
from api.rest.problems import problem
from api.services import file_exports
from api.services.file_exports import ExportTooLarge, FileExport
from db.queries.sql import Params

UNPAGED = frozenset({"limit", "offset", "f"})


class OpenFile:
    """A written export file, opened and already unlinked, as an export's source."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle

    def read(self) -> AsyncGenerator[bytes, None]:
        """The file's bytes in chunks, read off the event loop."""
        return file_exports.chunks(self.handle)

    async def close(self) -> None:
        """Close the file (its space is given back: it has no name any more)."""
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
    # The export slots of the streamed exports: a caller's exports, of any format, are counted
    # together, and the process's too.
    slot = export_slots(request).take(bucket_key(request.scope))
    if isinstance(slot, str):
        refused = problem(429, "RATE_LIMITED", slot)
        refused.headers["Retry-After"] = str(RETRY_AFTER_S)
        return refused
    target = file_exports.temporary_path(f".{fmt}")
    try:
        await file_exports.write_file(
            request.app.state.db, export, target, max_bytes=settings.export_file_max_bytes
        )
    except ExportTooLarge as exc:
        slot.release()
        raise QueryTooComplex(
            f"this export would be larger than {exc.max_bytes} bytes "
            "(MAR_EXPORT_FILE_MAX_BYTES); narrow it with bbox, datetime or filter"
        ) from None
    except BaseException:
        slot.release()
        raise
    handle, size = file_exports.open_unlinked(target)
    return ExportResponse(
        OpenFile(handle),
        slot,
        media_type=file_exports.MEDIA_TYPES[fmt],
        headers={
            "Content-Length": str(size),
            "Content-Disposition": f'attachment; filename="{kind}.{fmt}"',
            "Cache-Control": "no-store",
        },
        send_timeout=settings.export_send_timeout_s,
    )
