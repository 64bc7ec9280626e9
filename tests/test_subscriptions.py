"""Subscriptions over WS /graphql (graphql-transport-ws) against the real server: announced at
commit by PostgreSQL, so writes from any process (here: plain SQL) reach them; filters apply;
roles apply to the fields of every event."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from tests.helpers import make_key, metric_samples, serving

INCIDENT = (
    "INSERT INTO incidents (code, incident_type, occurred_on, location) "
    "VALUES ($1, $2, '2024-05-01', ST_SetSRID(ST_MakePoint(40.5, 5.5), 4326))"
)
ZONE_MUTATION = """
mutation($code: String!, $type: HazardType!) {
  createZone(input: {code: $code, name: "Live", hazardType: $type, contamination: [UXO],
    geometry: {type: "Polygon", coordinates: [[[50, 5], [50.01, 5], [50.01, 5.01], [50, 5]]]}}) {
    id version
  }
}"""
UPDATE_ZONE = """
mutation($id: ID!, $version: Int!) {
  updateZone(id: $id, version: $version, input: {priority: 1}) { version }
}"""


@pytest.fixture
async def server(fresh_db_url: str) -> AsyncIterator[str]:
    """`mar serve` against its own database; yields its base URL."""
    async with serving(fresh_db_url) as base_url:
        yield base_url


async def subscriptions_open(base_url: str, kind: str, count: int) -> None:
    """Wait until the server listens and has `count` open subscriptions to `kind` (10 s)."""
    async with httpx.AsyncClient(base_url=base_url) as http:
        for _ in range(100):
            figures = metric_samples((await http.get("/metrics")).text)
            listening = figures.get(("mar_live_listening", ())) == 1
            if listening and figures.get(("mar_live_subscriptions", (("kind", kind),))) == count:
                return
            await asyncio.sleep(0.1)
    raise AssertionError(f"{count} subscription(s) to {kind} did not open")


async def open_socket(base_url: str, key: str | None = None) -> ClientConnection:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    ws = await connect(
        base_url.replace("http", "ws") + "/graphql",
        subprotocols=[Subprotocol("graphql-transport-ws")],
        additional_headers=headers,
    )
    await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
    assert json.loads(await ws.recv()) == {"type": "connection_ack"}
    return ws


async def subscribe(ws: ClientConnection, sid: str, query: str) -> None:
    await ws.send(json.dumps({"id": sid, "type": "subscribe", "payload": {"query": query}}))


async def next_events(ws: ClientConnection, count: int) -> list[dict[str, Any]]:
    """The next `count` messages (5 s at most for each)."""
    return [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(count)]


async def test_incidents_reach_every_subscriber_whose_filter_they_match(
    server: str, fresh_db_url: str
) -> None:
    ws = await open_socket(server)
    try:
        await subscribe(ws, "all", "subscription { incidentRecorded { code incidentType } }")
        await subscribe(
            ws,
            "mines",
            "subscription { incidentRecorded(filter: {incidentType: [MINE_ACCIDENT]}) { code } }",
        )
        await subscriptions_open(server, "incident", 2)
        writer = await asyncpg.connect(fresh_db_url)
        try:
            async with writer.transaction():
                await writer.execute(INCIDENT, "LIVE-0", "MINE_ACCIDENT")
            rolled_back = writer.transaction()
            await rolled_back.start()
            await writer.execute(INCIDENT, "LIVE-NEVER", "MINE_ACCIDENT")
            await rolled_back.rollback()
            await writer.execute(INCIDENT, "LIVE-1", "OTHER")
        finally:
            await writer.close()
        events = await next_events(ws, 3)
        got = [(e["id"], e["type"], e["payload"]["data"]["incidentRecorded"]) for e in events]
        everything = [e for e in got if e[0] == "all"]
        mines = [e for e in got if e[0] == "mines"]
        assert everything == [
            ("all", "next", {"code": "LIVE-0", "incidentType": "MINE_ACCIDENT"}),
            ("all", "next", {"code": "LIVE-1", "incidentType": "OTHER"}),
        ]
        assert mines == [("mines", "next", {"code": "LIVE-0"})]
        with pytest.raises(TimeoutError):  # nothing else: not the rolled-back one
            await asyncio.wait_for(ws.recv(), 0.5)
    finally:
        await ws.close()
    await subscriptions_open(server, "incident", 0)  # a closed socket ends its subscriptions


async def test_zone_changes_carry_the_zone_as_it_is_after_each_change(
    server: str, fresh_db_url: str
) -> None:
    writer = await asyncpg.connect(fresh_db_url)
    try:
        editor = {"Authorization": f"Bearer {await make_key(writer, 'live editor', 'editor')}"}
    finally:
        await writer.close()
    ws = await open_socket(server)
    try:
        await subscribe(
            ws,
            "cha",
            "subscription { zoneChanged(filter: {hazardType: [CHA]}) { code status version } }",
        )
        await subscriptions_open(server, "zone", 1)
        async with httpx.AsyncClient(base_url=server, headers=editor) as http:
            for code, kind in (("LIVE-SHA", "SHA"), ("LIVE-CHA", "CHA")):
                made = await http.post(
                    "/graphql",
                    json={"query": ZONE_MUTATION, "variables": {"code": code, "type": kind}},
                )
                assert "errors" not in made.json(), made.text
            zone = made.json()["data"]["createZone"]
            updated = await http.post(
                "/graphql", json={"query": UPDATE_ZONE, "variables": {**zone}}
            )
            assert updated.json()["data"]["updateZone"]["version"] == 2
        events = await next_events(ws, 2)
        assert [e["payload"]["data"]["zoneChanged"] for e in events] == [
            {"code": "LIVE-CHA", "status": "OPEN", "version": 1},
            {"code": "LIVE-CHA", "status": "OPEN", "version": 2},
        ]
    finally:
        await ws.close()


async def test_each_event_keeps_to_the_role_of_the_subscriber(
    server: str, fresh_db_url: str
) -> None:
    ws = await open_socket(server)  # no key: the public role
    try:
        await subscribe(ws, "p", "subscription { incidentRecorded { code description } }")
        await subscriptions_open(server, "incident", 1)
        writer = await asyncpg.connect(fresh_db_url)
        try:
            await writer.execute(INCIDENT, "LIVE-P", "OTHER")
        finally:
            await writer.close()
        (event,) = await next_events(ws, 1)
        payload = event["payload"]
        assert payload["data"]["incidentRecorded"] == {"code": "LIVE-P", "description": None}
        assert [e["extensions"]["code"] for e in payload["errors"]] == ["FORBIDDEN"]
    finally:
        await ws.close()


async def test_a_wrong_key_cannot_subscribe(server: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await open_socket(server, key="mar_not_a_key")
    response = refused.value.response
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    (error,) = json.loads(response.body)["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


async def test_personal_data_in_events_is_counted_for_the_key(
    server: str, fresh_db_url: str
) -> None:
    db = await asyncpg.connect(fresh_db_url)
    try:
        key = await make_key(db, "live reader", "editor")
        ws = await open_socket(server, key)
        try:
            query = "subscription { incidentRecorded { code casualties { fullName } } }"
            await subscribe(ws, "e", query)
            await subscriptions_open(server, "incident", 1)
            async with db.transaction():
                incident = await db.fetchval(INCIDENT + " RETURNING id", "LIVE-N", "OTHER")
                await db.execute(
                    "INSERT INTO casualties (incident_id, outcome, full_name) "
                    "VALUES ($1, 'INJURED', 'A Person'), ($1, 'KILLED', 'Another Person')",
                    incident,
                )
            (event,) = await next_events(ws, 1)
            casualties = event["payload"]["data"]["incidentRecorded"]["casualties"]
            assert sorted(c["fullName"] for c in casualties) == ["A Person", "Another Person"]
        finally:
            await ws.close()
        await subscriptions_open(server, "incident", 0)
        reads = await db.fetchval(
            "SELECT personal_data_reads FROM api_keys WHERE name = 'live reader'"
        )
        assert reads == 2
    finally:
        await db.close()


async def test_without_the_asgi_extension_a_refused_socket_is_closed_with_4401(app: Any) -> None:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "path": "/graphql",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"authorization", b"Bearer mar_not_a_key")],
        "subprotocols": ["graphql-transport-ws"],
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 5000),
    }
    await app(scope, receive, send)
    assert sent == [{"type": "websocket.close", "code": 4401}]
