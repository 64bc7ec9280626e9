"""GraphQL over HTTP and WebSocket (graphql-transport-ws), with a context built per request.

Media types follow the GraphQL-over-HTTP spec: a client that accepts
`application/graphql-response+json` gets it, with 400 for request errors (the query could not be
parsed, validated or its variables coerced); `application/json` clients get 200 for those. Errors
that refuse the whole request carry their own status in both (API.md "Errors").

Before a request runs: the document it names by id is put in it (persisted.py), a batch is held
to its limits (batches.py), an event stream is served apart (sse.py), and a GET is answered with
an ETag, or 304 (`_conditional`).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, cast
from urllib.parse import urlencode, urlsplit

import asyncpg
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import GraphQLError
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult, SubscriptionExecutionResult

from api import json_body
from api.auth import ANONYMOUS, Caller, bearer_token, hash_secret
from api.graphql import batches, persisted, sse
from api.graphql.compiled import CompiledReads
from api.graphql.context import Context
from api.graphql.documents import digest
from api.graphql.errors import format_error, with_request_id
from api.graphql.fairness import Encoded, encode
from api.graphql.limits import QueryLimits, check_cost
from api.graphql.permissions import count_personal_data_reads
from api.graphql.response_cache import (
    CACHEABLE_ROLES,
    Entry,
    Key,
    ResponseCache,
    data_version,
    read_only_operation,
)
from api.graphql.schema import MarSchema
from api.graphql.websocket import KeyedTransportWS
from api.headers import CSP, ide_policy
from api.hosts import public_base
from api.json_body import BadJson
from api.ratelimit import address_bucket
from api.refusals import refuse
from api.requests import current_request_id, new_request_id
from api.rest.problems import http_problem
from api.settings import Settings
from api.sockets import Sockets, TooManySockets
from db.pool import CONNECTION_ERRORS, PoolExhausted

# Failures that leave a request without a data version (it then runs without the cache).
UNVERSIONED: tuple[type[BaseException], ...] = (
    *CONNECTION_ERRORS,
    PoolExhausted,
    asyncpg.PostgresError,
)

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
# Errors that refuse a whole request, and their HTTP status under either media type.
REQUEST_REFUSALS = {"QUERY_TOO_COMPLEX": 400, "UNAUTHENTICATED": 401, "RATE_LIMITED": 429}
# Seconds a client refused a WebSocket (too many open) is told to wait: until one of its own closes.
RETRY_SOCKET_S = 5


def negotiate(accept: str) -> str:
    """Return the media type to answer with for an Accept header (JSON when none fits better)."""
    offered = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    if GRAPHQL_RESPONSE_JSON in offered:
        return GRAPHQL_RESPONSE_JSON
    return JSON


def status_for(response_data: GraphQLHTTPResponse, media_type: str) -> tuple[int, bool]:
    """Return (HTTP status, whether to drop `data`) for one GraphQL response."""
    errors: list[dict[str, Any]] = cast(list[dict[str, Any]], response_data.get("errors") or [])
    if not errors or response_data.get("data") is not None:
        return 200, False
    code = (errors[0].get("extensions") or {}).get("code")
    if code in REQUEST_REFUSALS:
        return REQUEST_REFUSALS[code], media_type == GRAPHQL_RESPONSE_JSON
    # A request error (parse, validation, variable coercion) has no path: nothing was executed.
    if "path" not in errors[0] and media_type == GRAPHQL_RESPONSE_JSON:
        return 400, True
    return 200, False


class GraphQLApp(GraphQL[Context, None]):
    """Strawberry's ASGI app, taking its connection source from the Starlette app's state."""

    graphql_transport_ws_handler_class = KeyedTransportWS

    def __init__(self, schema: MarSchema, settings: Settings) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.graphiql else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        )
        self.settings = settings
        self.documents = schema.documents
        self.limits = QueryLimits.from_settings(settings)
        self.graphql_schema = schema._schema
        self.response_cache = (
            ResponseCache(max_bytes=settings.response_cache_bytes)
            if settings.response_cache
            else None
        )
        # Batches (api/graphql/batches.py checks their length, summed cost and rate first).
        schema.config.batching_config = {"max_operations": settings.max_batch}
        self.compiled = (
            CompiledReads(schema, self.limits, settings.max_page_size)
            if settings.compiled_reads
            else None
        )
        # The open WebSockets of this process (api/live.py closes those whose key is withdrawn).
        self.sockets = Sockets(settings.ws_max_per_key, settings.ws_max_per_address)
        # Texts of Automatic Persisted Queries this process has seen (api/graphql/persisted.py).
        self.apq = persisted.PersistedQueries(settings.apq_max_documents)
        # Operations (subscriptions, queries) one socket may run at once.
        self.max_subscriptions_per_connection = settings.ws_max_operations

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._socket(scope, receive, send)
            return
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        persisted = await self._persisted(request)
        if isinstance(persisted, Response):
            await persisted(scope, receive, send)
            return
        request = persisted
        if request.method == "POST" and batches.is_batch(await request.body()):
            try:
                batches.admit(
                    request,
                    await request.body(),
                    self.graphql_schema,
                    self.limits,
                    self.settings.max_batch,
                )
            except batches.BatchRefused as too_much:
                await self._refusal(request, too_much)(scope, receive, send)
                return
        if sse.wants_events(request.headers):
            response = await sse.respond(self, request)
        elif (refused := await sse.plain_subscription(request)) is not None:
            response = refused
        elif request.method == "GET":
            response = await self._conditional(request)
        elif self.response_cache is None:
            response = await self._run(request)
        else:
            response = await self._cached(request, self.response_cache)
        await response(scope, receive, send)

    async def _persisted(self, request: Request) -> Request | Response:
        """The request with the text of the document it names (api/graphql/persisted.py), or
        the answer that refuses it."""
        caller: Caller = getattr(request.state, "caller", None) or ANONYMOUS
        trusted_only = self.settings.trusted_documents_only
        try:
            if request.method == "GET":
                params: dict[str, Any] = dict(request.query_params)
                if "documentId" not in params and "extensions" not in params and not trusted_only:
                    return request
                if "extensions" in params:
                    try:
                        params["extensions"] = json_body.decode(params["extensions"])
                    except BadJson as exc:
                        return http_problem(400, f"The `extensions` parameter {exc}")
                resolved = await persisted.resolve(
                    params, caller.role, request.app.state.db, self.apq, trusted_only
                )
                if resolved is params:
                    return request
                query = {k: v for k, v in resolved.items() if k != "extensions"}
                scope = dict(request.scope)
                scope["query_string"] = urlencode(query).encode()
                return Request(scope, request.receive)
            if request.method != "POST":
                return request
            body = await request.body()
            if b"persistedQuery" not in body and b"documentId" not in body and not trusted_only:
                return request
            try:
                data = json_body.decode(body)
            except BadJson:
                return request  # strawberry refuses it as any body that is not JSON
            operations = data if isinstance(data, list) else [data]
            resolved_all = []
            for operation in operations:
                if not isinstance(operation, dict):
                    return request  # strawberry refuses it
                resolved_all.append(
                    await persisted.resolve(
                        operation, caller.role, request.app.state.db, self.apq, trusted_only
                    )
                )
            request._body = json.dumps(
                resolved_all if isinstance(data, list) else resolved_all[0]
            ).encode()
            return request
        except persisted.DocumentRefused as refused:
            return self._refusal(request, refused)

    def _refusal(self, request: Request, refused: persisted.DocumentRefused) -> Response:
        """A GraphQL answer refusing the whole request, with its code and the request id."""
        error = {
            "message": refused.message,
            "extensions": {"code": refused.code, "requestId": current_request_id()},
        }
        media_type = negotiate(request.headers.get("accept", ""))
        request.state.graphql_codes = [refused.code]
        return Response(
            json.dumps({"errors": [error]}),
            status_code=refused.status,
            media_type=f"{media_type}; charset=utf-8",
            headers=getattr(refused, "headers", None),
        )

    async def _conditional(self, request: Request) -> Response:
        """A GET of a read-only operation, with an ETag exact to the data's version, the role,
        the document and its variables: a CDN or a browser revalidates it, 304 when unchanged."""
        caller: Caller = getattr(request.state, "caller", None) or ANONYMOUS
        query = request.query_params.get("query")
        name = request.query_params.get("operationName")
        if query is None:
            return await self._run(request)
        try:
            document = self.documents.parse(query, self.settings.max_tokens)
        except GraphQLError:
            return await self._run(request)  # answered with the parse error
        if read_only_operation(document, name) is None:
            return await self._run(request)
        if caller.role not in CACHEABLE_ROLES:
            response = await self._run(request)
            response.headers["Cache-Control"] = "no-store"  # personal data: kept nowhere
            return response
        try:
            async with request.app.state.db.acquire() as conn:
                version = await data_version(conn)
        except UNVERSIONED:
            return await self._run(request)
        variables = request.query_params.get("variables") or "null"
        try:
            variables = json.dumps(json_body.decode(variables), sort_keys=True)
        except BadJson:
            return await self._run(request)  # strawberry says what is wrong with them
        media_type = negotiate(request.headers.get("accept", ""))
        identity = json.dumps([version, caller.role, media_type, query, name, variables])
        etag = '"' + hashlib.sha256(identity.encode()).hexdigest()[:32] + '"'
        headers = {
            "ETag": etag,
            # A key's answers are its own; the public's may be shared by a CDN. Either is
            # revalidated on each use, so a change shows at once.
            "Cache-Control": (
                "public, no-cache" if caller.role == "public" else "private, no-cache"
            ),
            "Vary": "Accept, Authorization",
        }
        wanted = [tag.strip() for tag in request.headers.get("if-none-match", "").split(",")]
        if etag in wanted or f"W/{etag}" in wanted:
            return Response(status_code=304, headers=headers)
        response = await self._run(request)
        if response.status_code == 200 and not getattr(request.state, "graphql_codes", None):
            response.headers.update(headers)
        return response

    async def _socket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a WebSocket that its key (or address) may still open, registered while open."""
        state = scope.setdefault("state", {})
        caller: Caller = state.get("caller") or ANONYMOUS
        key_hash = None
        if caller.key_id is not None:  # api/auth.py found the key: its header is well formed
            token = bearer_token(Headers(scope=scope).get("authorization"))
            key_hash = hash_secret(token) if token is not None else None
        try:
            # The address as api/proxies.py resolved it (a trusted proxy's client, else the peer).
            socket = self.sockets.admit(caller, address_bucket(scope), key_hash)
        except TooManySockets as exc:
            await refuse_handshake(scope, send, exc)
            return
        state["socket"] = socket
        try:
            await super().__call__(scope, receive, send)
        finally:
            # The socket as registered now: a key in connection_init's payload re-registers it.
            self.sockets.leave(state.get("socket") or socket)

    async def _cached(self, request: Request, cache: ResponseCache) -> Response:
        """Answer a read-only request of a role without personal data from the cache if we can."""
        lookup = await self._cache_key(request)
        if lookup is None:
            return await self._run(request)
        try:
            async with request.app.state.db.acquire() as conn:
                version = await data_version(conn)
        except UNVERSIONED:
            # No version, no cache: executing gives the client the usual (masked) error.
            return await self._run(request)
        entry = cache.get(version, lookup)
        if entry is not None:
            request.state.response_cache = "hit"
            return Response(
                entry.body,
                status_code=entry.status,
                media_type=entry.media_type,
                headers={"X-Cache": "hit"},
            )
        response = await self._run(request)
        if response.status_code == 200 and not getattr(request.state, "graphql_codes", None):
            media_type = response.headers.get("content-type", JSON)
            cache.put(version, lookup, Entry(200, media_type, bytes(response.body)))
        request.state.response_cache = "miss"
        response.headers["X-Cache"] = "miss"
        return response

    async def _cache_key(self, request: Request) -> Key | None:
        """The cache key of a request that may be answered from the cache, else None."""
        if request.method != "POST" or "no-cache" in request.headers.get("cache-control", ""):
            return None
        if not request.headers.get("content-type", "").startswith(JSON):
            return None
        caller: Caller = getattr(request.state, "caller", None) or ANONYMOUS
        if caller.role not in CACHEABLE_ROLES:
            return None
        body = await request.body()
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            return None  # strawberry answers it with its own 400
        if not isinstance(data, dict) or not isinstance(data.get("query"), str):
            return None
        name = data.get("operationName")
        try:
            document = self.documents.parse(data["query"], self.settings.max_tokens)
        except GraphQLError:
            return None  # strawberry answers it with the parse error
        operation = read_only_operation(document, name if isinstance(name, str) else None)
        if operation is None:
            return None
        request.state.graphql_operation = operation  # for the access log, even when cached
        variables = data.get("variables")
        variables = variables if isinstance(variables, dict) else {}
        if check_cost(self.graphql_schema, document, self.limits, variables):
            # Refused anyway, and never cached: no need to read the data version first.
            return None
        # Known by the digest of the body: a key of 32 bytes, however large the body.
        return (caller.role, negotiate(request.headers.get("accept", "")), digest(body))

    async def _run(self, request: Request) -> Response:
        if self.compiled is not None:
            media_type = negotiate(request.headers.get("accept", ""))
            compiled = await self.compiled.respond(request, media_type)
            if compiled is not None:
                request.state.graphql_path = "compiled"
                compiled.headers["content-type"] = f"{media_type}; charset=utf-8"
                return compiled
        request.state.graphql_path = "executed"
        try:
            return await self.run(request)
        except HTTPException as exc:
            # Strawberry's refusals (a body that is not JSON, a wrong method or media type): a
            # problem document with the request id, as every REST error is. 405 says which
            # method would do (RFC 9110): a mutation is only ever POSTed.
            problem = http_problem(exc.status_code, exc.reason)
            if exc.status_code == 405:
                problem.headers["Allow"] = "POST"
            return problem

    async def render_graphql_ide(self, request: Request) -> Response:
        # GraphiQL's page loads its scripts and styles from a CDN: its policy allows exactly
        # those, and subscriptions over a WebSocket to this service (the Host is an allowed one).
        base = urlsplit(public_base(request))
        websocket = f"{'wss' if base.scheme == 'https' else 'ws'}://{base.netloc}"
        policy = ide_policy(self.graphql_ide_html, websocket)
        return HTMLResponse(self.graphql_ide_html, headers={CSP: policy})

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket | None
    ) -> Context:
        if isinstance(response, Response):
            response.media_type = negotiate(request.headers.get("accept", ""))
        # api/auth.py put the caller there; api/idempotency.py may lend the request its own
        # connection (one transaction with the Idempotency-Key's claim).
        caller: Caller = getattr(request.state, "caller", None) or ANONYMOUS
        return Context(
            db=getattr(request.state, "db", None) or request.app.state.db,
            settings=self.settings,
            request_id=current_request_id() or new_request_id(None),
            role=caller.role,
            key_name=caller.name,
            key_id=caller.key_id,
            request=request,
            response=response,
            live=getattr(request.app.state, "live", None),
            socket=getattr(request.state, "socket", None),
        )

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        # Errors raised before execution by a cached parse skip the ErrorCodes extension; give
        # them their code here (format_error leaves an already coded error as it is).
        if result.errors:
            result.errors = [
                with_request_id(e) if (e.extensions or {}).get("code") else format_error(e)
                for e in result.errors
            ]
            # The outcome of the access log (api/middleware.py).
            request.state.graphql_codes = sorted(
                {str((e.extensions or {}).get("code")) for e in result.errors}
            )
        processed = Encoded(await super().process_result(request, result))
        # Written here, where it may take turns with other requests (api/graphql/fairness.py).
        processed.text = await encode(processed)
        return cast(GraphQLHTTPResponse, processed)

    async def execute_operation(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: Context,
        root_value: None,
        sub_response: Response,
    ) -> ExecutionResult | list[ExecutionResult] | SubscriptionExecutionResult:
        if isinstance(request_data, list):
            # A batch runs in order, one operation after another (strawberry would run them at
            # once): each sees the writes before it, and it holds one connection at a time.
            results: list[ExecutionResult] = []
            for data in request_data:
                results.append(
                    await self.execute_single(
                        request, request_adapter, sub_response, context, root_value, data
                    )
                )
            await count_personal_data_reads(context)
            return results
        result = await super().execute_operation(
            request, request_adapter, request_data, context, root_value, sub_response
        )
        # Casualties' personal data read by this request: one statement for the key's counter.
        await count_personal_data_reads(context)
        return result

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        try:
            return await super().execute_single(
                request, request_adapter, sub_response, context, root_value, request_data
            )
        except HTTPException as exc:
            # GraphQL over HTTP: a mutation sent with GET is 405 Method Not Allowed (not 400),
            # and it never runs.
            if request_adapter.method == "GET" and isinstance(
                exc.__cause__, InvalidOperationTypeError
            ):
                raise HTTPException(405, exc.reason) from exc.__cause__
            raise

    def encode_json(self, data: object) -> str:
        if isinstance(data, Encoded):
            return data.text
        # Text as it is (UTF-8), not \u escapes: as PostgreSQL writes it for compiled reads.
        return json.dumps(data, ensure_ascii=False)

    def parse_json(self, data: str | bytes) -> Any:
        # A body of JSON that is not an object (`null`, `5`) is a client's mistake, not a 500.
        try:
            parsed = json_body.decode(data)
        except BadJson as exc:
            raise HTTPException(400, f"The request body {exc}") from None
        if not isinstance(parsed, dict | list):
            raise HTTPException(400, "The request body must be a JSON object")
        return parsed

    def decode_json(self, data: str | bytes) -> object:
        # JSON nested deeper than the interpreter's recursion limit is malformed for us: 400 like
        # any body that is not JSON, not a RecursionError and a 500.
        try:
            return json_body.decode(data)
        except BadJson as exc:
            raise json.JSONDecodeError(f"The request body {exc}", "", 0) from None

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        media_type = sub_response.media_type or JSON
        status = 200
        if isinstance(response_data, dict):
            status, drop_data = status_for(response_data, media_type)
            if drop_data:
                response_data = cast(
                    GraphQLHTTPResponse, {k: v for k, v in response_data.items() if k != "data"}
                )
        response = super().create_response(response_data, sub_response)
        response.status_code = sub_response.status_code or status
        response.headers["content-type"] = f"{media_type}; charset=utf-8"
        return response


async def refuse_handshake(scope: Scope, send: Send, refusal: TooManySockets) -> None:
    """Refuse a WebSocket handshake over the caps with 429 and when to try again."""
    retry = [(b"retry-after", str(RETRY_SOCKET_S).encode())]
    await refuse(scope, send, refusal.http_status, refusal.code, refusal.message, retry)
