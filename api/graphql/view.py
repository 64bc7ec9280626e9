"""GraphQL over HTTP and WebSocket (graphql-transport-ws), with a context built per request."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from api.graphql.context import Context
from api.graphql.schema import MarSchema
from api.requests import current_request_id, new_request_id
from api.settings import Settings


class GraphQLApp(GraphQL[Context, None]):
    """Strawberry's ASGI app, taking its connection source from the Starlette app's state."""

    def __init__(self, schema: MarSchema, settings: Settings) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.graphiql else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        )
        self.settings = settings

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket | None
    ) -> Context:
        return Context(
            db=request.app.state.db,
            settings=self.settings,
            request_id=current_request_id() or new_request_id(None),
            request=request,
            response=response,
        )
