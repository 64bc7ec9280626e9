"""The API reference: OpenAPI declares the key (a bearer `mar_…` scheme) and which operations
take it, and /docs renders the document for people, offline, under a tight policy."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx


class Loads(HTMLParser):
    """Everything a page would load (scripts, stylesheets, images, frames) and its links."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script" or found.get("src"):
            self.loads.append(f"{tag} {found.get('src')}")
        if tag == "link":
            self.loads.append(f"link {found.get('href')}")
        if tag == "a" and found.get("href"):
            self.links.append(found["href"] or "")


async def test_openapi_declares_the_key_and_where_it_matters(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    (scheme,) = document["components"]["securitySchemes"].values()
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    assert "mar_" in scheme["bearerFormat"]
    paths = document["paths"]
    assert paths["/imports/zones"]["post"]["security"] == [{"apiKey": []}]
    assert paths["/exports/incidents.csv"]["get"]["security"] == [{}, {"apiKey": []}]
    assert "security" not in paths["/healthz"]["get"]
    report = paths["/imports/zones"]["post"]["responses"]["200"]["content"]["application/json"]
    assert "unchanged" in report["schema"]["properties"]


async def test_docs_lists_every_operation_and_loads_nothing(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    response = await client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert re.search(r"style-src 'sha256-[A-Za-z0-9+/=]+'", policy)
    page = response.text
    parser = Loads()
    parser.feed(page)
    assert parser.loads == []  # no script, no stylesheet, no image: nothing from anywhere
    assert all("://" not in link for link in parser.links if not link.startswith("#"))
    for path, item in document["paths"].items():
        for method in item:
            assert f"{method.upper()}</span> <code>{path}</code>" in page, (method, path)
    assert "Needs a key" in page and "Bearer mar_" in page
    assert '<a href="openapi.json">' in page
