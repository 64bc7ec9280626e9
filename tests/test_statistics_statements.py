"""Each statistics query is one SQL statement, whatever it groups by or filters on."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.helpers import GraphQLClient

WORLD = {"west": -180, "south": -90, "east": 180, "north": 90}
CASUALTIES = """
query($filter: CasualtyFilter, $groupBy: [CasualtyDimension!]) {
  casualtyStatistics(filter: $filter, groupBy: $groupBy) { total killed groups { month count } }
}"""
RELEASES = """
query($filter: LandReleaseFilter, $groupBy: [LandReleaseDimension!]) {
  landReleaseStatistics(filter: $filter, groupBy: $groupBy) {
    releasedM2 remainingM2 progress groups { method month releasedM2 }
  }
}"""
DEVICES = """
query($filter: DeviceFilter, $groupBy: [DeviceDimension!]) {
  deviceStatistics(filter: $filter, groupBy: $groupBy) { total groups { category month count } }
}"""
SERIES = {"from": "2024-01-01", "to": "2024-12-31"}

CASES: list[tuple[str, dict[str, Any]]] = [
    (CASUALTIES, {}),
    (CASUALTIES, {"groupBy": ["OUTCOME", "CATEGORY"]}),
    (CASUALTIES, {"groupBy": ["MONTH"], "filter": SERIES}),
    (CASUALTIES, {"groupBy": ["MONTH", "ADMIN1"], "filter": {**SERIES, "bbox": WORLD}}),
    (RELEASES, {"groupBy": ["METHOD"]}),
    (RELEASES, {"groupBy": ["MONTH"], "filter": SERIES}),
    (DEVICES, {"groupBy": ["CATEGORY", "DISPOSAL"]}),
    (DEVICES, {"groupBy": ["MONTH"], "filter": SERIES}),
]


@pytest.mark.parametrize(("query", "variables"), CASES)
async def test_one_statement_per_statistics_query(
    gql: GraphQLClient, sql_log: list[str], query: str, variables: dict[str, Any]
) -> None:
    await gql(query, variables)  # the first run also has asyncpg introspect the types it meets
    await asyncio.sleep(0)  # asyncpg calls query loggers soon after, not during, the statement
    sql_log.clear()
    body = await gql(query, variables)
    await asyncio.sleep(0)
    assert "errors" not in body, body
    assert len(sql_log) == 1, sql_log
