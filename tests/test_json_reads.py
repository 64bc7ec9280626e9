"""db/queries/json_reads.py: PostgreSQL writes each kind of value as json.dumps does, byte for byte.

The compiled read path joins these texts into answers that must equal the executor's (which
encodes Python values with json.dumps(ensure_ascii=False)); each writer is checked here against
Python on the values where the two could part: floats with and without a fraction, tiny and huge
ones, times with and without microseconds, text with quotes, escapes, control characters and
non-ASCII letters, empty and full enum arrays, GeoJSON.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

from db.pool import Connection as Conn
from db.queries.json_reads import DATE, DATETIME, ENUMS, FLOAT, GEOJSON, NUMBER, QUOTED, TEXT


async def written(conn: Conn, template: str, sql_type: str, values: list[object]) -> list[str]:
    """What PostgreSQL writes for each value with `template`."""
    expression = template.format(f"v::{sql_type}")
    rows = await conn.fetch(
        f"SELECT {expression} AS j FROM unnest($1::{sql_type}[]) WITH ORDINALITY AS u(v, n) "
        "ORDER BY n",
        values,
    )
    return [r["j"] for r in rows]


async def test_floats_are_written_as_python_writes_them(conn: Conn) -> None:
    areas = [
        Decimal(v) for v in ("0", "1", "12.00", "12.50", "1234567.89", "0.01", "999999999999.99")
    ]
    assert await written(conn, FLOAT, "numeric", areas) == [json.dumps(float(a)) for a in areas]
    floats = [0.0, -0.0, 1.0, 0.1, 1e-05, 0.000123, 123456.789, 2.5e14, 1e16, 1.5e300, -3.75]
    assert await written(conn, FLOAT, "float8", floats) == [json.dumps(f) for f in floats]


async def test_times_are_written_as_isoformat_writes_them(conn: Conn) -> None:
    base = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    times = [
        base,
        base.replace(microsecond=100_000),
        base.replace(microsecond=1),
        base.replace(microsecond=999_999),
        datetime(1999, 12, 31, 23, 59, 59, 500, tzinfo=timezone(timedelta(hours=5))),
    ]
    expected = [json.dumps(t.astimezone(UTC).isoformat()) for t in times]
    assert await written(conn, DATETIME, "timestamptz", times) == expected
    days = [date(2026, 11, 28), date(999, 1, 9)]
    assert await written(conn, DATE, "date", days) == [json.dumps(d.isoformat()) for d in days]


async def test_text_is_escaped_as_json_dumps_escapes_it(conn: Conn) -> None:
    texts = [
        "plain",
        'say "hi"',
        "back\\slash",
        "line\nbreak\ttab\rreturn\bbell\fform",
        "\x01\x1f\x7f control",
        "é ü ñ — 中文 עברית 🙂",
        "\u2028\u2029",
        "",
    ]
    expected = [json.dumps(t, ensure_ascii=False) for t in texts]
    assert await written(conn, TEXT, "text", texts) == expected


async def test_ids_numbers_booleans_and_enum_lists(conn: Conn) -> None:
    assert await written(conn, QUOTED, "bigint", [1, 9_007_199_254_740_993]) == [
        '"1"',
        '"9007199254740993"',
    ]
    assert await written(conn, NUMBER, "integer", [0, -7, 2_147_483_647]) == [
        "0",
        "-7",
        "2147483647",
    ]
    assert await written(conn, NUMBER, "boolean", [True, False]) == ["true", "false"]
    rows = await conn.fetch(
        f"SELECT {ENUMS.format('v')} AS j FROM (VALUES ('{{}}'::text[]), ('{{UXO}}'), "
        "('{AP_MINE,AV_MINE,IED}')) AS t(v)"
    )
    assert [r["j"] for r in rows] == [
        json.dumps([]),
        json.dumps(["UXO"]),
        json.dumps(["AP_MINE", "AV_MINE", "IED"]),
    ]


async def test_geojson_is_written_as_the_executor_re_encodes_it(conn: Conn) -> None:
    shapes = [
        "POINT(30 10)",
        "POINT(30.123456789 -10.5)",
        "MULTIPOLYGON(((10 10, 10.0005 10, 10.0005 10.001, 10 10.001, 10 10)))",
    ]
    rows = await conn.fetch(
        f"SELECT {GEOJSON.format('g')} AS j, ST_AsGeoJSON(g) AS raw "
        "FROM unnest($1::text[]) WITH ORDINALITY AS u(w, n), ST_GeomFromText(w, 4326) AS g "
        "ORDER BY n",
        shapes,
    )
    for row in rows:
        assert row["j"] == json.dumps(json.loads(row["raw"]))
