"""The GraphQL view's handling of malformed HTTP requests.

Strawberry reads a JSON body as an object without checking that it is one (the
body ``null`` was an AttributeError, a 500), and answers the requests it does
refuse in plain text. Here every refusal is a 4xx in the JSON error shape of the
REST routes, naming the body.
"""

from __future__ import annotations

from typing import Any

from cross_web import HTTPException
from starlette.requests import Request
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL

from opswatch.http.rest import error
from resolvers.context import Context

_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large", 415: "unsupported"}


class StrictGraphQL(GraphQL[Context, None]):
    def parse_json(self, data: str | bytes) -> Any:
        parsed = super().parse_json(data)
        # A list is a batch, which Strawberry refuses itself (batching is off).
        if not isinstance(parsed, dict | list):
            raise HTTPException(
                400, 'expected a JSON object, like {"query": "...", "variables": {...}}'
            )
        return parsed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope, receive))
        except HTTPException as refusal:
            code = _CODES.get(refusal.status_code, "bad_request")
            response = error(refusal.status_code, code, refusal.reason, "body")
        await response(scope, receive, send)
