"""The GraphQL endpoint: bearer-token auth over HTTP and in ``connection_init``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.types.unset import UnsetType

from opswatch.errors import Unauthenticated
from opswatch.http.graphql_requests import StrictGraphQL
from opswatch.http.websockets import WebSocketSessions, admit, reject
from opswatch.tenants.principal import Principal, bearer, principal_from_credential
from resolvers.context import Context
from resolvers.loaders import Loaders

PRINCIPAL_SCOPE_KEY = "opswatch.principal"


async def authenticate_header(header: str | None) -> Principal | None:
    """No header: anonymous (only introspection answers). A bad credential raises."""
    if header is None:
        return None
    credential = bearer(header)
    if credential is None:
        raise Unauthenticated("Authorization must be 'Bearer <user token>'")
    return await principal_from_credential(credential, allow_api_key=False)


class OpsWatchGraphQL(WebSocketSessions, StrictGraphQL):
    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        principal: Principal | None = request.scope.get(PRINCIPAL_SCOPE_KEY)
        return Context(
            request=request,
            response=response,
            principal=principal,
            loaders=Loaders(principal.tenant.id if principal else None),
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        params = context.connection_params or {}
        header = params.get("Authorization") or params.get("authorization")
        if header is None and isinstance(params.get("token"), str):
            header = f"Bearer {params['token']}"
        if header is None and context.request is not None:
            header = context.request.headers.get("authorization")
        try:
            principal = await authenticate_header(header if isinstance(header, str) else None)
        except Unauthenticated as error:
            reject(context, error.message)
        if principal is None or not isinstance(header, str):
            reject(context, "send Authorization in connection_init")
        admit(context, header)
        context.principal = principal
        context.loaders = Loaders(principal.tenant.id)
        return await super().on_ws_connect(context)


class AuthenticatedGraphQL:
    """Answers a bad bearer token with a JSON 401 before GraphQL sees the request."""

    def __init__(self, app: OpsWatchGraphQL) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope)
            try:
                scope[PRINCIPAL_SCOPE_KEY] = await authenticate_header(
                    request.headers.get("authorization")
                )
            except Unauthenticated as error:
                response = JSONResponse({"error": error.as_dict()}, status_code=401)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def graphql_app(*, graphiql: bool) -> AuthenticatedGraphQL:
    from schema.schema import schema

    view = OpsWatchGraphQL(schema, graphql_ide="graphiql" if graphiql else None)
    return AuthenticatedGraphQL(view)
