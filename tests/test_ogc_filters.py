"""Filters shared by the OGC items and the exports: URL and CQL2 text -> parameterised SQL."""

from __future__ import annotations

import asyncpg
import pytest
from starlette.datastructures import QueryParams

from api.errors import BadUserInput, NotFoundError
from api.rest import filters
from db.queries import ogc as sql
from db.queries.sql import Params, where_clause
from tests.ogc_data import add_records


@pytest.fixture
async def records(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    await add_records(conn, zones=25, incidents=12)


async def matching(
    conn: asyncpg.Connection[asyncpg.Record], collection: str, query: str, role: str = "public"
) -> list[str]:
    """Codes of the features `query` (a URL query string) selects, in the requested order."""
    layer = filters.layer_of(collection)
    wanted = filters.item_filter(layer, QueryParams(query), role)
    params = Params()
    where = where_clause(filters.where(layer, wanted, params))
    statement = (
        f"SELECT {layer.alias}.code FROM {layer.table} AS {layer.alias} {where} "
        f"ORDER BY {filters.order(layer, wanted)}"
    )
    return [r["code"] for r in await conn.fetch(statement, *params.values)]


def cql(text: str) -> str:
    return str(QueryParams({"filter": text}))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("priority = 1 AND admin1 = 'North'", ["OGC-Z-005", "OGC-Z-010"]),
        ("priority = 1 OR code = 'OGC-Z-002'", ["OGC-Z-002", "OGC-Z-005", "OGC-Z-010",
                                                "OGC-Z-015", "OGC-Z-020", "OGC-Z-025"]),
        ("NOT (priority > 1) AND NOT status = 'CLOSED'", ["OGC-Z-005", "OGC-Z-010", "OGC-Z-015",
                                                          "OGC-Z-025"]),
        ("name LIKE 'Zone 2_'", ["OGC-Z-020", "OGC-Z-021", "OGC-Z-022", "OGC-Z-023", "OGC-Z-024",
                                 "OGC-Z-025"]),
        ("code IN ('OGC-Z-001', 'OGC-Z-003', 'nope')", ["OGC-Z-001", "OGC-Z-003"]),
        ("recorded_on BETWEEN DATE('2024-01-03') AND DATE('2024-01-04')",
         ["OGC-Z-002", "OGC-Z-003"]),
        ("land_use IS NULL AND priority = 5", ["OGC-Z-004", "OGC-Z-009", "OGC-Z-014", "OGC-Z-019",
                                               "OGC-Z-024"]),
        ("contamination = 'AP_MINE' AND priority = 1", ["OGC-Z-010", "OGC-Z-020"]),
        ("2 >= priority AND priority > 1", ["OGC-Z-001", "OGC-Z-006", "OGC-Z-011", "OGC-Z-016",
                                            "OGC-Z-021"]),
        ("S_INTERSECTS(geometry, POINT(0.0525 0.0525))", ["OGC-Z-005"]),
        ("S_WITHIN(geometry, POLYGON((0 0, 0.034 0, 0.034 0.034, 0 0.034, 0 0)))",
         ["OGC-Z-001", "OGC-Z-002"]),
        ("S_INTERSECTS(geometry, LINESTRING(0.01 0.01, 0.021 0.021))", ["OGC-Z-001", "OGC-Z-002"]),
        ("S_DISJOINT(geometry, BBOX(0, 0, 0.235, 0.235))", ["OGC-Z-024", "OGC-Z-025"]),
        ("updated_at > TIMESTAMP('2000-01-01T00:00:00Z') AND priority = 1 AND admin1 = 'North'",
         ["OGC-Z-005", "OGC-Z-010"]),
        ("priority = 1.5", []),
    ],
)  # fmt: skip
async def test_cql2_on_zones(
    conn: asyncpg.Connection[asyncpg.Record], records: None, text: str, expected: list[str]
) -> None:
    assert await matching(conn, "zones", cql(text)) == expected


async def test_cql2_on_incidents(conn: asyncpg.Connection[asyncpg.Record], records: None) -> None:
    assert await matching(conn, "incidents", cql("killed = 1 AND verified = false")) == [
        "OGC-I-003", "OGC-I-009",
    ]  # fmt: skip
    assert await matching(conn, "incidents", cql("zone_code = 'OGC-Z-004'")) == ["OGC-I-004"]
    text = "occurred_on < DATE('2024-01-22') AND injured = 0"
    assert await matching(conn, "incidents", cql(text)) == ["OGC-I-001", "OGC-I-002"]


async def test_private_queryables_need_a_partner(
    conn: asyncpg.Connection[asyncpg.Record], records: None
) -> None:
    query = cql("description = 'Private description 7'")
    assert await matching(conn, "incidents", query, role="partner") == ["OGC-I-007"]
    with pytest.raises(BadUserInput) as refused:
        await matching(conn, "incidents", query, role="public")
    assert [f.field for f in refused.value.fields] == ["filter"]
    public = sql.feature_json(sql.INCIDENTS, include_private=False)
    assert "description" not in public and "source" not in public
    assert "'description'" in sql.feature_json(sql.INCIDENTS, include_private=True)


async def test_the_exports_extra_parameters_are_allowed(
    conn: asyncpg.Connection[asyncpg.Record], records: None
) -> None:
    layer = filters.layer_of("zones")
    wanted = filters.item_filter(
        layer, QueryParams("hxl=false&priority=1"), "public", allowed={"hxl"}
    )
    assert wanted.equals == {"priority": "1"}
    with pytest.raises(BadUserInput):
        filters.item_filter(layer, QueryParams("hxl=false"), "public")


def test_an_unknown_collection_is_not_found() -> None:
    with pytest.raises(NotFoundError):
        filters.layer_of("casualties")


@pytest.mark.parametrize(
    "text",
    ["S_INTERSECTS(geometry, POLYGON((0 0, 1 0, 1 1, 0 0.5)))",  # ring not closed
     "S_INTERSECTS(geometry, LINESTRING(0 0))",
     "S_INTERSECTS(code, POINT(0 0))",
     "S_INTERSECTS(geometry, BBOX(0, 10, 1, 5))",
     "contamination > 'UXO'",
     "code LIKE 5",
     "priority IN ('a')",
     "verified BETWEEN 1 AND 2",
     "priority = code",
     "T_AFTER(updated_at, TIMESTAMP('2020-01-01T00:00:00Z'))",
     "recorded_on = DATE('2024-02-30')"],
)  # fmt: skip
def test_filters_the_layer_cannot_answer_name_the_filter(text: str) -> None:
    layer = filters.layer_of("zones")
    with pytest.raises(BadUserInput) as refused:
        filters.item_filter(layer, QueryParams(cql(text)), "public")
    assert [f.field for f in refused.value.fields] == ["filter"]


def test_deep_nesting_is_refused() -> None:
    text = "NOT (" * 60 + "priority = 1" + ")" * 60
    with pytest.raises(BadUserInput) as refused:
        filters.item_filter(filters.layer_of("zones"), QueryParams(cql(text)), "public")
    assert [f.field for f in refused.value.fields] == ["filter"]
