"""Hostile web clients: forged Host and X-Forwarded-For, key guessing, odd request ids, framing.

In-process where the app alone decides; against `mar serve` where uvicorn takes part (the client's
address, the Host it receives).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from api.app import create_app
from api.settings import Settings, SettingsError
from db.pool import Connection, SingleConnectionSource
from tests.helpers import TEST_HOSTS, make_key, serving
from tests.test_errors import BrokenSource
from tests.test_exports import square_zone

QUERY = {"query": "{ zones(first: 1) { totalCount } }"}
API_POLICY = "default-src 'none'; frame-ancestors 'none'"
HEX_ID = re.compile(r"^[0-9a-f]{32}$")


@asynccontextmanager
async def app_client(
    app: Any, address: str = "127.0.0.1", host: str = "mar.test"
) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client calling from `address`, with `host` in its URLs (so its Host)."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{host}") as http:
        yield http


def configured(conn: Connection, **env: str) -> Any:
    """The test app with these MAR_ settings (read from the environment as `mar serve` does)."""
    settings = Settings.from_env(
        {"MAR_LOG_JSON": "false", "MAR_RESPONSE_CACHE": "false", **TEST_HOSTS, **env}
    )
    return create_app(settings, db=SingleConnectionSource(conn))


def inline_source(text: str) -> str:
    """How CSP names one inline block: its SHA-256, base64, quoted."""
    return f"'sha256-{base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()}'"


def directives(policy: str) -> dict[str, list[str]]:
    """A Content-Security-Policy as {directive: its sources}."""
    found: dict[str, list[str]] = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        found[name] = sources
    return found


class Inline(HTMLParser):
    """The inline <style>/<script> blocks, external script/stylesheet URLs and style attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.styles: list[str] = []
        self.scripts: list[str] = []
        self.urls: list[str] = []
        self.style_attributes = 0
        self._open: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.style_attributes += "style" in found
        if tag == "style" or (tag == "script" and not found.get("src")):
            self._open = self.styles if tag == "style" else self.scripts
            self._open.append("")
        elif found.get("src") or (tag == "link" and found.get("rel") == "stylesheet"):
            self.urls.append(str(found.get("src") or found.get("href")))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open[-1] += data


def read_page(text: str) -> Inline:
    page = Inline()
    page.feed(text)
    return page


def assert_common_headers(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert directives(response.headers["content-security-policy"])["frame-ancestors"] == ["'none'"]


# --- security headers ------------------------------------------------------------------------


async def test_api_answers_load_nothing_and_are_never_framed(client: httpx.AsyncClient) -> None:
    answers = [
        await client.post("/graphql", json=QUERY),
        await client.get("/ogc/collections"),
        await client.get("/openapi.json"),
        await client.get("/tiles/zones.json"),
        await client.get("/exports/zones.csv"),
        await client.get("/healthz"),
        await client.get("/no/such/path"),
    ]
    for response in answers:
        assert response.headers["content-security-policy"] == API_POLICY, response.url
        assert_common_headers(response)


async def test_home_page_allows_its_own_style_block_and_nothing_else(
    client: httpx.AsyncClient, conn: Connection
) -> None:
    await square_zone(conn, "CSP-1", "Drawn", 10.0, 10.0)  # so that the map and its key show
    response = await client.get("/")
    assert response.status_code == 200
    assert_common_headers(response)
    policy = directives(response.headers["content-security-policy"])
    page = read_page(response.text)
    # The one <style> block, by its hash; no script at all; inline style attributes would be
    # refused by such a policy, so the page must have none.
    assert policy["style-src"] == [inline_source(s) for s in page.styles] and page.styles
    assert policy["default-src"] == ["'none'"] and "script-src" not in policy
    assert not page.scripts and not page.urls and page.style_attributes == 0
    assert "<svg" in response.text


async def test_ogc_html_pages_allow_their_own_style_block_only(client: httpx.AsyncClient) -> None:
    for path in ("/ogc?f=html", "/ogc/collections?f=html", "/ogc/collections/zones/items?f=html"):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert_common_headers(response)
        policy = directives(response.headers["content-security-policy"])
        page = read_page(response.text)
        assert policy["style-src"] == [inline_source(s) for s in page.styles], path
        assert policy["default-src"] == ["'none'"] and "script-src" not in policy
        assert not page.scripts and page.style_attributes == 0


async def test_graphiql_may_load_exactly_what_its_page_names(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200 and "graphiql" in response.text.lower()
    assert_common_headers(response)
    policy = directives(response.headers["content-security-policy"])
    page = read_page(response.text)
    origins = {f"{urlsplit(u).scheme}://{urlsplit(u).netloc}" for u in page.urls}
    assert origins == {"https://unpkg.com"}
    # Every inline script by its hash, scripts from the CDN it names and from nowhere else.
    assert sorted(policy["script-src"]) == sorted(
        [*origins, *(inline_source(s) for s in page.scripts)]
    )
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-eval'" not in policy["script-src"]
    assert policy["connect-src"] == ["'self'", "ws://mar.test"]
    assert policy["default-src"] == ["'none'"]


# --- request ids -----------------------------------------------------------------------------


async def test_a_rest_500_has_a_request_id_in_header_and_body(settings: Settings) -> None:
    app = create_app(settings, db=BrokenSource())
    async with app_client(app) as http:
        response = await http.get("/ogc/collections/zones", headers={"X-Request-ID": "rest-500"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"] == "rest-500"
    body = response.json()
    assert body["requestId"] == "rest-500" and "rest-500" in body["detail"]
    assert "secret" not in response.text
    assert_common_headers(response)


@pytest.mark.parametrize(
    "offered",
    ["x" * 129, "has space", "semi;colon", "new\nline", "slash/", "colon:1", "é", "<script>"],
)
async def test_an_odd_request_id_is_replaced_by_the_servers(
    client: httpx.AsyncClient, offered: str
) -> None:
    raw = offered.encode()
    # httpx refuses some of these in a header; send the raw bytes as a client could.
    response = await client.get("/no/such/path", headers=[(b"x-request-id", raw)])
    shown = response.headers["x-request-id"]
    assert HEX_ID.match(shown), shown
    assert response.json()["requestId"] == shown


async def test_a_plain_request_id_is_kept(client: httpx.AsyncClient) -> None:
    for offered in ("a", "A.b_c-9", "z" * 128):
        response = await client.get("/no/such/path", headers={"X-Request-ID": offered})
        assert response.headers["x-request-id"] == offered
        assert response.json()["requestId"] == offered


async def test_the_audit_keeps_the_servers_id_and_the_log_has_both(
    client: httpx.AsyncClient, conn: Connection, editor_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mar.access")
    created = await client.post(
        "/graphql",
        json={
            "query": "mutation($i: CreateOrganisationInput!) { createOrganisation(input: $i) "
            "{ id } }",
            "variables": {"i": {"code": "AUD-ID", "name": "Audit id", "orgType": "NATIONAL_NGO"}},
        },
        # A client naming its request after another one, to blur the audit trail.
        headers={"Authorization": f"Bearer {editor_key}", "X-Request-ID": "someone-elses-id"},
    )
    assert "errors" not in created.json(), created.json()
    assert created.headers["x-request-id"] == "someone-elses-id"
    audited = await conn.fetchval(
        "SELECT request_id FROM audit_log WHERE entity = 'Organisation' ORDER BY id DESC LIMIT 1"
    )
    assert HEX_ID.match(audited)
    (line,) = [r for r in caplog.records if getattr(r, "request_id", None) == "someone-elses-id"]
    assert line.__dict__["server_request_id"] == audited  # an `extra` of the log record


async def test_every_graphql_error_names_its_request(client: httpx.AsyncClient) -> None:
    answers = [
        await client.post("/graphql", json={"query": "{ zones { nope } }"}),
        await client.post("/graphql", json={"query": "{ zones("}),
        await client.post("/graphql", json=QUERY, headers={"Authorization": "Bearer mar_bogus"}),
        await client.post("/graphql", content=b"[1", headers={"content-type": "application/json"}),
    ]
    for response in answers:
        body = response.json()
        shown = response.headers["x-request-id"]
        if "errors" in body:
            assert [e["extensions"]["requestId"] for e in body["errors"]] == [shown], body
        else:  # a body that is not JSON at all: a problem document
            assert body["requestId"] == shown, body


# --- Host and links --------------------------------------------------------------------------


async def test_a_forged_host_is_refused_and_probes_answer_any_host(app: Any) -> None:
    async with app_client(app, host="evil.example") as http:
        for path in ("/ogc", "/tiles/zones.json", "/openapi.json", "/graphql?query={__typename}"):
            response = await http.get(path)
            assert response.status_code == 400, path
            assert response.headers["content-type"] == "application/problem+json"
            body = response.json()
            assert body["code"] == "BAD_USER_INPUT" and body["fields"][0]["field"] == "Host"
            assert body["requestId"] == response.headers["x-request-id"]
            assert "evil.example" not in response.headers.get("location", "")
        assert (await http.get("/healthz")).status_code == 200


async def test_links_come_from_the_public_url_whatever_the_host(conn: Connection) -> None:
    public = "https://records.example.org/mar"
    app = configured(conn, MAR_PUBLIC_URL=public)
    async with app_client(app) as http:
        landing = (await http.get("/ogc")).json()
        tilejson = (await http.get("/tiles/zones.json")).json()
        openapi = (await http.get("/openapi.json")).json()
        items = (await http.get("/ogc/collections/zones/items?limit=1&offset=1")).json()
    hrefs = [link["href"] for link in landing["links"] + items["links"]]
    hrefs += tilejson["tiles"] + [s["url"] for s in openapi["servers"]]
    assert hrefs and all(h.startswith(public + "/") or h == public for h in hrefs), hrefs
    self_link = next(link["href"] for link in items["links"] if link["rel"] == "self")
    assert self_link == f"{public}/ogc/collections/zones/items?limit=1&offset=1"


def test_allowed_hosts_default_to_loopback_and_the_public_host() -> None:
    assert Settings.from_env({}).allowed_hosts == ("localhost", "127.0.0.1", "::1")
    configured = Settings.from_env({"MAR_PUBLIC_URL": "https://Records.Example.org:8443/"})
    assert configured.public_url == "https://Records.Example.org:8443"
    assert "records.example.org" in configured.allowed_hosts
    assert Settings.from_env({"MAR_ALLOWED_HOSTS": "a.org, .b.org"}).allowed_hosts == (
        "a.org",
        ".b.org",
    )


# --- failed key checks -----------------------------------------------------------------------


async def test_failed_key_checks_are_limited_per_address(conn: Connection) -> None:
    good = await make_key(conn, "guessed at", "partner")
    app = configured(conn, MAR_AUTH_FAILURES_PER_MINUTE="3")
    guesses = [f"mar_{'A' * 42}{n}" for n in range(5)]
    async with app_client(app, address="203.0.113.7") as http:
        for guess in guesses[:3]:
            response = await http.post("/graphql", json=QUERY, headers=_bearer(guess))
            assert response.status_code == 401
        refused = await http.post("/graphql", json=QUERY, headers=_bearer(guesses[3]))
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        (error,) = refused.json()["errors"]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        # Even a good key is not looked at: a guesser cannot tell a hit from a miss.
        assert (await http.post("/graphql", json=QUERY, headers=_bearer(good))).status_code == 429
        rest = await http.get("/ogc", headers=_bearer(guesses[4]))
        assert rest.status_code == 429 and rest.json()["code"] == "RATE_LIMITED"
        # Requests without a key are not key checks.
        assert (await http.post("/graphql", json=QUERY)).status_code == 200
    async with app_client(app, address="203.0.113.8") as other:
        assert (await other.post("/graphql", json=QUERY, headers=_bearer(good))).status_code == 200


async def test_key_guesses_from_one_ipv6_network_share_a_budget(conn: Connection) -> None:
    """A host usually holds a whole /64: fresh addresses from it are no fresh budget."""
    app = configured(conn, MAR_AUTH_FAILURES_PER_MINUTE="2")
    codes = []
    for address in ("2001:db8::1", "2001:db8::2", "2001:db8::ffff:3", "2001:db8:0:1::1"):
        async with app_client(app, address=address) as http:
            guess = _bearer(f"mar_{'B' * 43}")
            codes.append((await http.post("/graphql", json=QUERY, headers=guess)).status_code)
    assert codes == [401, 401, 429, 401]


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# --- X-Forwarded-For -------------------------------------------------------------------------


async def test_forwarded_for_counts_only_from_a_trusted_proxy(conn: Connection) -> None:
    app = configured(conn, MAR_RATE_LIMIT="1", MAR_RATE_BURST="2", MAR_TRUSTED_PROXIES="10.0.0.0/8")
    # "/" costs a whole token (api/ratelimit.py's weights): the budget is two requests.
    # From an untrusted peer, a rotating X-Forwarded-For is ignored: one budget.
    async with app_client(app, address="198.51.100.1") as http:
        codes = [
            (await http.get("/", headers={"X-Forwarded-For": f"192.0.2.{n}"})).status_code
            for n in range(4)
        ]
    assert codes[:2] == [200, 200] and 429 in codes[2:]
    # From the proxy, each forwarded client has its own budget; what the client itself wrote
    # to the left of the proxy's entry counts for nothing.
    async with app_client(app, address="10.1.2.3") as proxy:
        for n in range(4):
            forwarded = {"X-Forwarded-For": f"6.6.6.6, 192.0.2.{n}"}
            assert (await proxy.get("/", headers=forwarded)).status_code == 200
        same = {"X-Forwarded-For": "1.1.1.1, 192.0.2.200"}
        assert [(await proxy.get("/", headers=same)).status_code for _ in range(3)][-1] == 429


async def test_forwarded_proto_counts_only_from_a_trusted_proxy(conn: Connection) -> None:
    app = configured(conn, MAR_TRUSTED_PROXIES="10.0.0.0/8")
    https = {"X-Forwarded-Proto": "https"}
    async with app_client(app, address="10.1.2.3") as proxy:
        behind = (await proxy.get("/tiles/zones.json", headers=https)).json()
    async with app_client(app, address="198.51.100.1") as stranger:
        forged = (await stranger.get("/tiles/zones.json", headers=https)).json()
    assert behind["tiles"][0].startswith("https://mar.test/tiles/zones/")
    assert forged["tiles"][0].startswith("http://mar.test/tiles/zones/")


def test_trusted_proxies_must_be_addresses_or_networks() -> None:
    parsed = Settings.from_env({"MAR_TRUSTED_PROXIES": "10.0.0.1, 10.1.2.3/8 ,::1"})
    assert parsed.trusted_proxies == ("10.0.0.1/32", "10.0.0.0/8", "::1/128")
    with pytest.raises(SettingsError, match="MAR_TRUSTED_PROXIES"):
        Settings.from_env({"MAR_TRUSTED_PROXIES": "proxy.example.org"})


async def test_rotating_forwarded_for_from_loopback_does_not_reset_the_limit(
    fresh_db_url: str,
) -> None:
    """Against uvicorn: today it believes X-Forwarded-For from 127.0.0.1 on its own."""
    async with (
        serving(fresh_db_url, MAR_RATE_LIMIT="1", MAR_RATE_BURST="3") as base,
        httpx.AsyncClient(base_url=base, timeout=10) as http,
    ):
        codes = [
            (await http.get("/", headers={"X-Forwarded-For": f"192.0.2.{n}"})).status_code
            for n in range(6)
        ]
    assert codes[:3] == [200, 200, 200] and 429 in codes[3:], codes


async def test_a_trusted_proxy_gives_each_client_its_budget(fresh_db_url: str) -> None:
    async with (
        serving(
            fresh_db_url, MAR_RATE_LIMIT="1", MAR_RATE_BURST="2", MAR_TRUSTED_PROXIES="127.0.0.1"
        ) as base,
        httpx.AsyncClient(base_url=base, timeout=10) as http,
    ):
        codes = [
            (await http.get("/ogc", headers={"X-Forwarded-For": f"192.0.2.{n}"})).status_code
            for n in range(5)
        ]
    assert codes == [200] * 5


# --- forged Host against the real server -----------------------------------------------------


async def test_a_forged_host_never_reaches_the_links(fresh_db_url: str) -> None:
    async with (
        serving(fresh_db_url) as base,
        httpx.AsyncClient(base_url=base, timeout=10) as http,
    ):
        forged = {"Host": "evil.example"}
        for path in ("/tiles/zones.json", "/ogc", "/openapi.json", "/ogc/collections"):
            response = await http.get(path, headers=forged)
            assert response.status_code == 400, path
            assert "evil.example" not in response.headers.get("location", "")
        # What a plain client gets afterwards names this server only.
        for path in ("/tiles/zones.json", "/ogc", "/openapi.json"):
            response = await http.get(path)
            assert response.status_code == 200 and "evil" not in response.text, path
        port = urlsplit(base).port
        tilejson = (await http.get("/tiles/zones.json")).json()
        assert tilejson["tiles"][0].startswith(f"http://127.0.0.1:{port}/tiles/zones/")


async def test_the_public_url_names_the_links_of_the_real_server(fresh_db_url: str) -> None:
    async with (
        serving(fresh_db_url, MAR_PUBLIC_URL="https://records.example.org") as base,
        httpx.AsyncClient(base_url=base, timeout=10) as http,
    ):
        tilejson = (await http.get("/tiles/zones.json")).json()
        landing = (await http.get("/ogc", headers={"Host": "records.example.org"})).json()
        forged = await http.get("/ogc", headers={"Host": "evil.example"})
    assert tilejson["tiles"][0].startswith("https://records.example.org/tiles/zones/")
    assert all(link["href"].startswith("https://records.example.org/") for link in landing["links"])
    assert forged.status_code == 400
