"""GET /exports/{zones|incidents|releases|casualties}.csv and /exports/{zones|incidents}.geojson.

An export is admitted if its caller and the process have a free slot (api.rest.export_slots),
else it is RATE_LIMITED. Its rows are read from a server-side cursor (api.services.exports.stream)
into a spool at the database's speed (api.services.spool: one snapshot; the connection is given
back when the rows are written, whatever the client does) and the spool is sent at the client's
pace (api.rest.export_stream). The connection is borrowed and the statement opened before the
response starts, so a refusal still comes back as a problem document.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from api.errors import (
    BadUserInput,
    FieldError,
    Forbidden,
    NotFoundError,
    Problems,
    from_database_failure,
)
from api.ratelimit import bucket_key
from api.rest import filters
from api.rest.export_slots import ExportSlots
from api.rest.export_stream import ExportResponse
from api.rest.problems import problem
from api.services import exports
from api.services.exports import Access, Export
from api.services.spool import Spool
from db.queries.sql import Params

log = logging.getLogger("mar.exports")

# Roles that read casualties' personal data (API.md); description/source: filters.sees_private.
PERSONAL_DATA_ROLES = frozenset({"editor", "admin"})
RELEASE_READERS = frozenset({"partner", "editor", "admin"})  # as api/auth.py's TYPE_READERS
UNPAGED = frozenset({"limit", "offset", "f"})
# Which items endpoint's filters choose the rows of each export, and whether `sortby` applies.
FILTER_LAYERS = {
    "zones": ("zones", True),
    "incidents": ("incidents", True),
    "releases": ("zones", False),
    "casualties": ("incidents", False),
}
_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}
# Seconds a refused export is told to wait: about what a small export takes to finish.
RETRY_AFTER_S = 5


def caller_role(request: Request) -> str:
    """The caller's role: the access middleware's caller (`request.state.caller.role`), else
    `request.state.role`, else `public`."""
    caller = getattr(request.state, "caller", None)
    role = getattr(caller, "role", None) or getattr(request.state, "role", "public")
    return str(role)


def access_of(request: Request) -> Access:
    """What the caller's role may read in an export."""
    role = caller_role(request)
    return Access(restricted=filters.sees_private(role), personal=role in PERSONAL_DATA_ROLES)


def flag(request: Request, name: str, default: bool) -> bool:
    """A true/false query parameter; anything else is BAD_USER_INPUT naming it."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise BadUserInput([FieldError(name, f"must be true or false, not {raw!r}")])


@dataclass(frozen=True)
class Selection:
    """The rows an export writes: SQL conditions, their values, and the ORDER BY list."""

    conditions: list[str]
    params: list[object]
    order: str


def _selection(request: Request, layer_name: str, extra: set[str], *, sortable: bool) -> Selection:
    """Read the filters of the OGC items endpoint (api.rest.filters) from the query string.

    The export writes every matching row: paging parameters are refused rather than ignored.
    """
    problems = Problems(prefix="")
    for name in UNPAGED & set(request.query_params):
        problems.add(name, "an export writes every matching record; it has no pages")
    if not sortable and "sortby" in request.query_params:
        problems.add("sortby", "this export has a fixed order")
    problems.raise_if_any()
    layer = filters.layer_of(layer_name)
    wanted = filters.item_filter(layer, request.query_params, caller_role(request), allowed=extra)
    params = Params()
    conditions = filters.where(layer, wanted, params)
    return Selection(conditions, params.values, filters.order(layer, wanted))


def _kind(request: Request, kinds: tuple[str, ...], extension: str) -> str:
    kind: str = request.path_params["kind"]
    if kind not in kinds:
        raise NotFoundError(
            f"there is no export {kind}.{extension}; there are "
            + ", ".join(f"{k}.{extension}" for k in kinds)
        )
    return kind


def export_slots(request: Request) -> ExportSlots:
    """The process's export slots (made on first use, from the app's settings)."""
    state = request.app.state
    slots: ExportSlots | None = getattr(state, "export_slots", None)
    if slots is None:
        settings = state.settings
        slots = state.export_slots = ExportSlots(settings.exports_per_client, settings.exports_max)
    return slots


async def _respond(request: Request, export: Export, media_type: str, filename: str) -> Response:
    settings = request.app.state.settings
    slot = export_slots(request).take(bucket_key(request.scope))
    if isinstance(slot, str):
        refused = problem(429, "RATE_LIMITED", slot)
        refused.headers["Retry-After"] = str(RETRY_AFTER_S)
        return refused
    spool = Spool(
        exports.stream(request.app.state.db, export), folder=settings.export_spool_dir or None
    )
    try:
        await spool.start()  # borrows the connection and opens the cursor
    except BaseException as error:
        await spool.close()
        slot.release()
        failure = from_database_failure(error) if isinstance(error, Exception) else None
        if failure is None:
            raise
        log.warning("%s %s: %s", request.method, request.url.path, error)
        raise failure from None
    return ExportResponse(
        spool,
        slot,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
        send_timeout=settings.export_send_timeout_s,
    )


async def export_csv(request: Request) -> Response:
    """A CSV export with the HXL hashtag row under the header (unless `hxl=false`)."""
    kind = _kind(request, exports.CSV_KINDS, "csv")
    if kind == "releases" and caller_role(request) not in RELEASE_READERS:
        raise Forbidden("land releases are visible to the partner, editor and admin roles")
    hxl = flag(request, "hxl", True)
    # Releases are chosen by their zone, casualty counts by their incident.
    layer, sortable = FILTER_LAYERS[kind]
    rows = _selection(request, layer, {"hxl"}, sortable=sortable)
    export = exports.csv_export(
        kind, rows.conditions, rows.params, order=rows.order, hxl=hxl, access=access_of(request)
    )
    return await _respond(request, export, exports.MEDIA_TYPES["csv"], f"{kind}.csv")


async def export_geojson(request: Request) -> Response:
    """A GeoJSON FeatureCollection export."""
    kind = _kind(request, exports.GEOJSON_KINDS, "geojson")
    rows = _selection(request, kind, set(), sortable=True)
    export = exports.geojson_export(
        kind, rows.conditions, rows.params, order=rows.order, access=access_of(request)
    )
    return await _respond(request, export, exports.MEDIA_TYPES["geojson"], f"{kind}.geojson")
