"""POST /imports/{zones|incidents}: a GeoJSON FeatureCollection upserted by code, all or nothing.

`?dry_run=true` checks everything and writes nothing. The answer is a report
`{created, updated, unchanged, errors: [{index, field, message}], dryRun}`: 200 when applied
(or the dry run ran), 400 problem+json carrying the same report when a feature is refused.
The body is limited to MAR_IMPORT_MAX_BYTES (413 beyond).
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.errors import BadUserInput, FieldError, Forbidden, NotFoundError
from api.rest.exports import caller_role, flag
from api.rest.problems import problem
from api.services.imports import KINDS, decode_collection, run_import

# Roles that may write records (API.md "Access").
WRITER_ROLES = frozenset({"editor", "admin"})
PARAMETERS = frozenset({"dry_run"})


def require_writer(request: Request) -> None:
    """Raise Forbidden unless the caller's role may write records.

    Until the access middleware runs, a request carries no role at all and is let through.
    """
    if not hasattr(request.state, "caller") and not hasattr(request.state, "role"):
        return
    role = caller_role(request)
    if role not in WRITER_ROLES:
        raise Forbidden(f"the {role} role may not import records; an editor key is needed")


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, or 413 as soon as it is known to exceed `max_bytes`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise HTTPException(413, f"The import is larger than {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise HTTPException(413, f"The import is larger than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def import_records(request: Request) -> Response:
    """Import zones or incidents from the GeoJSON body and answer the report."""
    kind: str = request.path_params["kind"]
    if kind not in KINDS:
        raise NotFoundError(f"there is no import of {kind}; there are {', '.join(KINDS)}")
    require_writer(request)
    unknown = [name for name in request.query_params if name not in PARAMETERS]
    if unknown:
        raise BadUserInput([FieldError(n, "is not a parameter of imports") for n in unknown])
    dry_run = flag(request, "dry_run", False)
    body = await read_body(request, request.app.state.settings.import_max_bytes)
    collection = decode_collection(body, kind)
    async with request.app.state.db.acquire() as conn:
        report = await run_import(
            conn,
            kind,
            collection,
            dry_run=dry_run,
            max_casualties=request.app.state.settings.max_casualties_per_incident,
        )
    if report.errors and not dry_run:
        count = len({e.index for e in report.errors})
        return problem(
            400,
            "BAD_USER_INPUT",
            f"{count} feature(s) refused; nothing was imported",
            fields=[
                {"field": f"features[{e.index}].{e.field}", "message": e.message}
                for e in report.errors
            ],
            **report.as_json(),
        )
    return JSONResponse(report.as_json())
