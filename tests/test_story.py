"""A whole land-release story through HTTP, as an operator and an NMAC would write it."""

from __future__ import annotations

from datetime import date
from typing import Any

from tests.helpers import GraphQLClient


def square(lon: float, lat: float, size: float) -> dict[str, Any]:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


async def ok(gql: GraphQLClient, query: str, variables: dict[str, Any] | None = None) -> Any:
    body = await gql(query, variables or {})
    assert "errors" not in body, body
    return body["data"]


async def test_from_suspicion_to_closure(gql: GraphQLClient) -> None:
    today = date.today().isoformat()
    org = await ok(
        gql,
        """mutation { createOrganisation(input: {code: "OP-1", name: "Field Operator",
           orgType: INTERNATIONAL_NGO, country: "ZZ"}) { id } }""",
    )
    org_id = org["createOrganisation"]["id"]
    team_ids = []
    for code, capabilities in (("T-NTS", ["NTS"]), ("T-MAN", ["MANUAL", "TS"])):
        team = await ok(
            gql,
            """mutation($input: CreateTeamInput!) { createTeam(input: $input) { id } }""",
            {
                "input": {
                    "code": code,
                    "name": f"Team {code}",
                    "organisationId": org_id,
                    "size": 8,
                    "capabilities": capabilities,
                    "accreditationExpiresOn": "2099-12-31",
                }
            },
        )
        team_ids.append(team["createTeam"]["id"])

    # A suspected hazardous area reported by the community.
    zone = (
        await ok(
            gql,
            """mutation($g: GeoJSON!) { createZone(input: {code: "HA-STORY", name: "Riverside",
               hazardType: SHA, contamination: [AP_MINE], geometry: $g, priority: 1}) {
               id version estimatedAreaM2 status } }""",
            {"g": square(3.0, 3.0, 0.004)},
        )
    )["createZone"]
    zone_id = zone["id"]

    async def zone_now() -> dict[str, Any]:
        data = await ok(
            gql,
            """query($id: ID) { zone(id: $id) { status hazardType version estimatedAreaM2
               releasedAreaM2 remainingAreaM2 statusChangedOn } }""",
            {"id": zone_id},
        )
        return dict(data["zone"])

    async def task(task_type: str, teams: list[str]) -> str:
        created = await ok(
            gql,
            """mutation($input: CreateTaskInput!) { createTask(input: $input) { id status } }""",
            {"input": {"zoneId": zone_id, "taskType": task_type, "teamIds": teams}},
        )
        assert created["createTask"]["status"] == "PLANNED"
        return str(created["createTask"]["id"])

    async def move(task_id: str, status: str) -> None:
        await ok(
            gql,
            "mutation($id: ID!, $s: TaskStatus!) { setTaskStatus(id: $id, status: $s) { status } }",
            {"id": task_id, "s": status},
        )

    # Non-technical survey: while it runs the zone is worked on; it confirms a smaller area.
    nts = await task("NTS", [team_ids[0]])
    await move(nts, "ONGOING")
    assert (await zone_now())["status"] == "WORKED_ON"
    await move(nts, "COMPLETED")
    current = await zone_now()
    assert current["status"] == "OPEN"
    confirmed = (
        await ok(
            gql,
            """mutation($id: ID!, $v: Int!, $g: GeoJSON!) { updateZone(id: $id, version: $v,
               input: {hazardType: CHA, geometry: $g}) { hazardType estimatedAreaM2 } }""",
            {"id": zone_id, "v": current["version"], "g": square(3.0, 3.0, 0.002)},
        )
    )["updateZone"]
    assert confirmed["hazardType"] == "CHA"
    assert confirmed["estimatedAreaM2"] < zone["estimatedAreaM2"] / 3

    # Clearance with progress reports and device finds.
    clearance = await task("CLEARANCE", team_ids)
    await move(clearance, "ONGOING")
    report = await ok(
        gql,
        """mutation($input: ProgressReportInput!) { submitProgressReport(input: $input) {
           areaSearchedM2 devices { category quantity disposal } } }""",
        {
            "input": {
                "taskId": clearance,
                "reportDate": today,
                "areaSearchedM2": 5000,
                "devices": [
                    {"category": "AP_MINE", "quantity": 3, "disposal": "DESTROYED_IN_SITU"},
                    {
                        "category": "UXO",
                        "quantity": 1,
                        "disposal": "REMOVED_AND_DESTROYED",
                        "location": {"type": "Point", "coordinates": [3.001, 3.001]},
                    },
                ],
            }
        },
    )
    assert [d["quantity"] for d in report["submitProgressReport"]["devices"]] == [3, 1]

    release = """mutation($input: LandReleaseInput!) { recordLandRelease(input: $input) {
                 method areaM2 } }"""
    estimated = confirmed["estimatedAreaM2"]
    partial = round(estimated * 0.4, 2)
    await ok(
        gql,
        release,
        {
            "input": {
                "zoneId": zone_id,
                "taskId": clearance,
                "method": "CLEARED",
                "areaM2": partial,
                "releasedOn": today,
            }
        },
    )
    halfway = await zone_now()
    assert halfway["releasedAreaM2"] == partial
    assert halfway["remainingAreaM2"] == round(estimated - partial, 2)
    assert halfway["status"] == "WORKED_ON"

    # Cancelling land after clearing it is refused; nothing changes.
    refused = await gql(
        release,
        {
            "input": {
                "zoneId": zone_id,
                "method": "CANCELLED",
                "areaM2": 10,
                "releasedOn": today,
            }
        },
    )
    assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert (await zone_now())["releasedAreaM2"] == partial

    await ok(
        gql,
        release,
        {
            "input": {
                "zoneId": zone_id,
                "taskId": clearance,
                "method": "CLEARED",
                "areaM2": halfway["remainingAreaM2"],
                "releasedOn": today,
            }
        },
    )
    closed = await zone_now()
    assert closed["status"] == "CLOSED"
    assert closed["remainingAreaM2"] == 0
    assert closed["statusChangedOn"] == today
    await move(clearance, "COMPLETED")
    assert (await zone_now())["status"] == "CLOSED"

    # An accident nearby, inside the zone's polygon: linked to it without a zoneId.
    incident = (
        await ok(
            gql,
            """mutation($input: RecordIncidentInput!) { recordIncident(input: $input) {
               code zone { code } killed injured casualties { ageGroup outcome } } }""",
            {
                "input": {
                    "code": "ACC-STORY",
                    "incidentType": "MINE_ACCIDENT",
                    "occurredOn": "2024-03-02",
                    "location": {"type": "Point", "coordinates": [3.0005, 3.0005]},
                    "deviceCategory": "AP_MINE",
                    "activity": "FARMING",
                    "casualties": [
                        {"outcome": "INJURED", "category": "CIVILIAN", "sex": "FEMALE", "age": 12},
                        {"outcome": "KILLED", "category": "CIVILIAN", "sex": "MALE", "age": 40},
                    ],
                }
            },
        )
    )["recordIncident"]
    assert incident["zone"] == {"code": "HA-STORY"}
    assert (incident["killed"], incident["injured"]) == (1, 1)
    assert sorted(c["ageGroup"] for c in incident["casualties"]) == ["ADULT", "CHILD"]

    # The whole record, nested, as a dashboard reads it.
    record = await ok(
        gql,
        """{ zone(code: "HA-STORY") { status
             tasks { taskType status teams { code organisation { code } } }
             releases { method areaM2 }
             incidents { totalCount nodes { code } } } }""",
    )
    z = record["zone"]
    assert [(t["taskType"], t["status"]) for t in z["tasks"]] == [
        ("NTS", "COMPLETED"),
        ("CLEARANCE", "COMPLETED"),
    ]
    assert {t["code"] for t in z["tasks"][1]["teams"]} == {"T-NTS", "T-MAN"}
    assert z["tasks"][1]["teams"][0]["organisation"] == {"code": "OP-1"}
    assert sum(r["areaM2"] for r in z["releases"]) == estimated
    assert z["incidents"] == {"totalCount": 1, "nodes": [{"code": "ACC-STORY"}]}
