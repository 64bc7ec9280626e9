"""GET /exports/{zones|incidents|releases|casualties}.csv and /exports/{zones|incidents}.geojson.

The body is streamed from a server-side cursor (api.services.exports.stream). The statement is
prepared and the connection borrowed before the response starts, so a refusal still comes back
as a problem document; once streaming, the connection is given back when the body ends or the
client goes away.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from api.errors import BadUserInput, FieldError, Forbidden, NotFoundError, Problems
from api.rest import filters
from api.services import exports
from api.services.exports import Access, Export
from db.queries.sql import Params

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


class CursorStream(StreamingResponse):
    """A streamed body whose iterator is closed whatever ends the response (a disconnect too)."""

    def __init__(
        self, body: AsyncGenerator[bytes, None], *, media_type: str, headers: dict[str, str]
    ) -> None:
        super().__init__(body, media_type=media_type, headers=headers)
        self.stream = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with aclosing(self.stream):
            await super().__call__(scope, receive, send)


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


async def _respond(request: Request, export: Export, media_type: str, filename: str) -> Response:
    body = exports.stream(request.app.state.db, export)
    try:
        head = await anext(body)  # borrows the connection and opens the cursor
    except BaseException:
        await body.aclose()
        raise

    async def whole() -> AsyncGenerator[bytes, None]:
        async with aclosing(body):
            yield head
            async for chunk in body:
                yield chunk

    return CursorStream(
        whole(),
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
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
