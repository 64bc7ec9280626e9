"""/openapi.json: valid OpenAPI 3.0 naming every REST route; a schemathesis run finds no 500."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path
from typing import Any

import httpx
from openapi_spec_validator import validate
from starlette.routing import Route

from tests.ogc_server import ogc_server

__all__ = ["ogc_server"]
# schemathesis's command, from the environment that runs the tests.
ST = Path(sys.executable).parent / "st"


async def test_the_document_is_valid_openapi_3(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.0")
    validate(document)
    assert document["servers"] == [{"url": "http://mar.test"}]


async def test_every_rest_route_is_described(app: Any, client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    patterns = [re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", p) + "$") for p in paths]
    for route in app.routes:
        if not isinstance(route, Route) or route.path in ("/graphql", "/ogc/"):
            continue  # GraphQL has its own schema; /ogc/ is /ogc with a slash
        concrete = re.sub(r"\{[^}]+\}", "zones", route.path)
        assert any(p.match(concrete) for p in patterns), f"{route.path} is not in /openapi.json"


async def test_items_parameters_include_the_queryables(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    params = paths["/ogc/collections/incidents/items"]["get"]["parameters"]
    names = {p.get("name") for p in params}
    assert {"killed", "occurred_on", "verified"} <= names
    assert "description" not in names


async def test_a_bounded_schemathesis_run_finds_no_server_error(ogc_server: str) -> None:
    process = await asyncio.create_subprocess_exec(
        str(ST), "run", f"{ogc_server}/openapi.json",
        "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
        "response_schema_conformance",
        "--max-examples", "10", "--seed", "6", "--request-timeout", "20", "--no-color",
        "--phases", "examples,coverage,fuzzing",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), 280)
    text = output.decode(errors="replace")
    assert process.returncode == 0, text[-6000:]
