"""Bad input, fuzzed: schemathesis drives every query and mutation of the exported schema against
the in-process app, and hypothesis feeds the validators. No 500, no crash, no masked error.

Example counts are bounded so that `make test` stays fast; raise FUZZ_EXAMPLES to search longer.
"""

from __future__ import annotations

import asyncio
import json
import math
import string
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import graphql
import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from api.app import create_app
from api.errors import BadUserInput
from api.graphql.pagination import decode_cursor, encode_cursor
from api.services.geometry import structure_problem
from api.settings import Settings, SettingsError
from db.pool import connect
from tests.test_faults import editor_headers

SCHEMA = Path(__file__).resolve().parent.parent / "api" / "graphql" / "schema.graphql"
FUZZ_EXAMPLES = 12  # per operation
# Derandomized: the same examples on every run, so a CI run never fails by chance.
QUICK = hsettings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def codes(body: Any) -> set[str]:
    return {str((e.get("extensions") or {}).get("code")) for e in body.get("errors") or []}


# --- schemathesis, GraphQL mode -------------------------------------------------------------


@pytest.mark.commits
def test_schemathesis_finds_no_server_error(settings: Settings, fresh_db_url: str) -> None:
    headers = asyncio.run(_editor(fresh_db_url))
    app = create_app(
        replace(settings, database_url=fresh_db_url, rate_limit_per_s=0, pool_max_size=2)
    )
    schema = schemathesis.graphql.from_path(SCHEMA)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20
    failures: list[str] = []
    for operation in operations:
        fuzz(operation, app, headers, failures)()
    assert not failures, "\n\n".join(failures[:5])


def literal(value: Any) -> str:
    """A JSON value as a GraphQL literal (object keys bare, strings JSON-escaped)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else "0.5"
    return json.dumps(value)


names = st.text(alphabet=string.ascii_letters, min_size=1, max_size=8)
graphql_json = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | st.floats(-200, 200) | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(names, inner, max_size=4),
    max_leaves=30,
)


def square_of(corner: tuple[float, float], size: float) -> dict[str, Any]:
    lon, lat = corner
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


positions = st.tuples(st.floats(-185, 185), st.floats(-95, 95))
geojson_values = st.one_of(
    st.builds(square_of, positions, st.floats(1e-5, 2.0)),
    positions.map(lambda p: {"type": "Point", "coordinates": list(p)}),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["Polygon", "MultiPolygon", "Point"]), "coordinates": graphql_json}
    ),
    graphql_json,
)
# The exported schema's own scalar: geometries, near-geometries and junk, as GraphQL literals.
schemathesis.graphql.scalar("GeoJSON", geojson_values.map(literal).map(graphql.parse_value))


def fuzz(operation: Any, app: Any, headers: dict[str, str], failures: list[str]) -> Any:
    """A hypothesis test sending `operation`'s generated documents; failures are collected."""

    @settings_for_fuzz
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        response = case.call(app=app, base_url="http://testserver/graphql", headers=headers)
        body = response.json()
        if response.status_code >= 500 or "INTERNAL_SERVER_ERROR" in codes(body):
            failures.append(f"{operation.label}: {response.status_code} {body}\n{case.body}")

    return run


settings_for_fuzz = hsettings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


async def _editor(url: str) -> dict[str, str]:
    conn = await connect(url)
    try:
        return await editor_headers(conn)
    finally:
        await conn.close()


# --- hostile request bodies -----------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,
        b'{"query": "{ zones { totalCount } }", "variables": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        b'{"query": ' + b'"' + b"{" * 3000 + b'"}',
        b"\xff\xfe\x00garbage",
        b'{"query": 12}',
        b'{"query": "{ zones { totalCount } }", "variables": "not an object"}',
        b"null",
    ],
)
async def test_hostile_bodies_are_client_errors(client: httpx.AsyncClient, body: bytes) -> None:
    response = await client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert 200 <= response.status_code < 500, response.text
    if response.headers["content-type"].startswith("application/json"):
        assert "INTERNAL_SERVER_ERROR" not in response.text


# --- hypothesis: the validators ---------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=40,
)
geometry_like = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["Point", "Polygon", "MultiPolygon", "LineString", 7]),
        "coordinates": json_values,
    }
)


@QUICK
@given(value=json_values | geometry_like | st.text(max_size=200))
def test_geometry_checks_answer_a_reason_or_none_and_never_crash(value: Any) -> None:
    reason = structure_problem(value, ("Polygon", "MultiPolygon"))
    assert reason is None or isinstance(reason, str)


@QUICK
@given(depth=st.integers(min_value=1, max_value=200_000))
def test_deeply_nested_geometry_text_is_refused_not_crashed(depth: int) -> None:
    assert structure_problem("[" * depth + "]" * depth, ("Polygon",)) is not None


coordinates = st.tuples(
    st.floats(min_value=-179.0, max_value=179.0), st.floats(min_value=-89.0, max_value=89.0)
)


@QUICK
@given(corner=coordinates, size=st.floats(min_value=1e-6, max_value=0.9))
def test_a_closed_square_in_range_is_well_formed(corner: tuple[float, float], size: float) -> None:
    lon, lat = corner
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    polygon = {"type": "Polygon", "coordinates": [ring]}
    assert structure_problem(polygon, ("Polygon",)) is None
    assert structure_problem(json.dumps(polygon), ("Polygon",)) is None
    multi = {"type": "MultiPolygon", "coordinates": [[ring]]}
    assert structure_problem(multi, ("Polygon", "MultiPolygon")) is None


@QUICK
@given(
    value=json_values,
    lon=st.floats(allow_nan=True, allow_infinity=True),
    lat=st.floats(allow_nan=True, allow_infinity=True),
)
def test_positions_out_of_range_or_not_finite_are_refused(
    value: Any, lon: float, lat: float
) -> None:
    point = {"type": "Point", "coordinates": [lon, lat]}
    fine = math.isfinite(lon) and math.isfinite(lat) and abs(lon) <= 180 and abs(lat) <= 90
    assert (structure_problem(point, ("Point",)) is None) == fine
    structure_problem({"type": "Point", "coordinates": value}, ("Point",))


@QUICK
@given(cursor=st.text(max_size=120) | st.binary(max_size=90).map(lambda b: b.hex()))
def test_any_cursor_text_is_decoded_or_refused_as_bad_input(cursor: str) -> None:
    for kind in ("int", "text", "date", "timestamptz", "numeric"):
        try:
            decode_cursor(cursor, "zones", "PRIORITY_ASC", kind)
        except BadUserInput as refused:
            assert [f.field for f in refused.fields] == ["after"]


sort_values = st.one_of(
    st.tuples(st.just("int"), st.integers(min_value=-(2**63), max_value=2**63 - 1)),
    st.tuples(st.just("text"), st.text(max_size=40)),
    st.tuples(st.just("date"), st.dates()),
    st.tuples(
        st.just("timestamptz"),
        st.datetimes(min_value=datetime(1, 1, 2), timezones=st.just(UTC)),
    ),
    st.tuples(
        st.just("numeric"),
        st.decimals(allow_nan=False, allow_infinity=False, places=2, max_value=10**12),
    ),
)


@QUICK
@given(value=sort_values, record_id=st.integers(min_value=1, max_value=2**63 - 1))
def test_cursors_round_trip_and_belong_to_their_list(
    value: tuple[str, Any], record_id: int
) -> None:
    kind, raw = value
    cursor = encode_cursor("zones", "CODE_ASC", raw, record_id)
    decoded, decoded_id = decode_cursor(cursor, "zones", "CODE_ASC", kind)
    assert decoded_id == record_id
    assert decoded == raw
    with pytest.raises(BadUserInput):
        decode_cursor(cursor, "incidents", "CODE_ASC", kind)
    with pytest.raises(BadUserInput):
        decode_cursor(cursor, "zones", "PRIORITY_ASC", kind)


ENV_NAMES = [
    "MAR_PORT",
    "MAR_LOG_LEVEL",
    "MAR_LOG_JSON",
    "MAR_ANONYMOUS_ACCESS",
    "MAR_POOL_MAX_SIZE",
    "MAR_POOL_ACQUIRE_TIMEOUT",
    "MAR_MAX_PAGE_SIZE",
    "MAR_MAX_DEPTH",
    "MAR_MAX_COST",
    "MAR_RATE_LIMIT",
    "MAR_RATE_BURST",
    "MAR_STATEMENT_TIMEOUT_MS",
    "MAR_MAX_BODY_BYTES",
    "MAR_CORS_ORIGINS",
    "MAR_SUGGESTIONS",
]
env_values = st.one_of(
    st.text(max_size=12),
    st.integers(min_value=-(10**12), max_value=10**12).map(str),
    st.sampled_from(["true", "false", "yes", "0", "", " ", "https://a.example.org,*"]),
    st.text(alphabet=string.digits + "._-+ ", max_size=8),
)


@QUICK
@given(env=st.dictionaries(st.sampled_from(ENV_NAMES), env_values, max_size=6))
def test_settings_parse_or_refuse_with_the_variable_named(env: dict[str, str]) -> None:
    try:
        parsed = Settings.from_env(env)
    except SettingsError as refused:
        assert any(name in str(refused) for name in env), refused
        return
    assert 1 <= parsed.port <= 65535
    assert parsed.max_page_size >= 1 and parsed.rate_limit_burst >= 1
