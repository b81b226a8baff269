"""GraphQL over WebSocket: per-token connection slots, a per-connection subscription
cap, and releasing a closed connection's memory when it closes.

Why a closed connection needs releasing: a served process collects its oldest
garbage generation rarely (see opswatch/gc_tuning.py), and a subscription lives
long enough to reach that generation. Two reference cycles held every dropped
connection, with its websockets protocol and permessage-deflate zlib state
(about 48 KB of the ~100 KB a connection costs), until such a collection came:

- graphql-core's ``Executor`` refers to itself (``async_helpers`` holds its own
  bound methods) and holds the GraphQL context, which held the Starlette
  ``WebSocket``, uvicorn's protocol and the websockets ``ServerProtocol``;
- the websockets ``ServerProtocol`` refers to itself through its parser
  coroutine, which never finishes: uvicorn does not feed it the end of the
  stream, and even then it would wait at a last ``yield``.

Measured on the production shape (PostgreSQL, Redis, uvloop), 1,000 subscriptions
held at once and then closed, RSS after each cycle: 225, 266, 311, 357, 406 MB
before; 230, 251, 266, 281, 296 MB with both cycles cut; 230, 238, 239, 239 MB
with the sweep below as well. A full ``gc.collect()`` freed all of it every time:
nothing stayed reachable, it was garbage waiting for a collection that the
tuning had made rare.
"""

from __future__ import annotations

import gc
import hashlib
from collections import Counter
from typing import Any, NoReturn

from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from opswatch import runtime
from opswatch.metrics.definitions import LIVE_SUBSCRIBERS
from resolvers.context import Context

CONTEXT_SCOPE_KEY = "opswatch.ws_context"
SLOT_SCOPE_KEY = "opswatch.ws_slot"
REJECTION_SCOPE_KEY = "opswatch.ws_rejection"
CLOSE_REASON_BYTES = 123  # RFC 6455: a close frame's payload is at most 125 bytes
# graphql-core leaves ~10-15 KB of cyclic garbage per operation (its executor, the
# parsed document's tokens, Strawberry's validator classes), none of it holding a
# connection any more; a full collection per this many closed connections bounds it.
COLLECT_AFTER_CLOSED = 1000


class ReleasingWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol, which also ends the websockets parser coroutine
    once the connection is lost, so the protocol is freed by reference counting."""

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.conn.parser.close()


class ConnectionSlots:
    """Open WebSocket connections per token, in this process."""

    def __init__(self) -> None:
        self._open: Counter[str] = Counter()

    def acquire(self, key: str, limit: int) -> bool:
        if self._open[key] >= limit:
            return False
        self._open[key] += 1
        LIVE_SUBSCRIBERS.inc()
        return True

    def release(self, key: str) -> None:
        LIVE_SUBSCRIBERS.dec()
        self._open[key] -= 1
        if self._open[key] <= 0:
            del self._open[key]

    def held(self, key: str) -> int:
        return self._open[key]


SLOTS = ConnectionSlots()


def token_key(authorization: str) -> str:
    # A digest, so that the table of open connections holds no usable token.
    return hashlib.sha256(authorization.encode()).hexdigest()


def admit(context: Context, authorization: str) -> None:
    """Count an authenticated connection against its token, or refuse it when the token
    is at its cap; either way, what the connection holds is let go when it ends."""
    if not isinstance(context.request, WebSocket):
        return
    scope = context.request.scope
    if scope.get(SLOT_SCOPE_KEY) is not None:
        return
    limit = runtime.current().settings.max_ws_connections_per_token
    key = token_key(authorization)
    if not SLOTS.acquire(key, limit):
        reject(
            context,
            f"this token already has {limit} open WebSocket connections "
            "(OPSWATCH_MAX_WS_CONNECTIONS_PER_TOKEN); close one first",
        )
    scope[SLOT_SCOPE_KEY] = key
    scope[CONTEXT_SCOPE_KEY] = context


def reject(context: Context, message: str) -> NoReturn:
    """Refuse connection_init; the message becomes the reason of the 4403 close."""
    if isinstance(context.request, WebSocket):
        context.request.scope[REJECTION_SCOPE_KEY] = message
    raise ConnectionRejectionError({"message": message})


class RejectionReasonAdapter(ASGIWebSocketAdapter):
    """Strawberry closes a refused connection_init with the reason "Forbidden" and
    drops the payload; this closes it with the reason the view gave instead."""

    async def close(self, code: int, reason: str) -> None:
        if code == 4403:
            given = self.ws.scope.pop(REJECTION_SCOPE_KEY, None)
            if isinstance(given, str):
                reason = given.encode()[:CLOSE_REASON_BYTES].decode(errors="ignore")
        await super().close(code, reason)


def _subscription_cap() -> int:
    return runtime.current().settings.max_subscriptions_per_connection


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws with the subscription cap of the settings, named in the error."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_subscriptions_per_connection = _subscription_cap()

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        limit = self.max_subscriptions_per_connection
        over = limit is not None and len(self.operations) >= limit
        if over and self.connection_acknowledged and message["id"] not in self.operations:
            await self.send_message(
                {
                    "id": message["id"],
                    "type": "error",
                    "payload": [
                        {
                            "message": f"at most {limit} subscriptions per connection "
                            "(OPSWATCH_MAX_SUBSCRIPTIONS_PER_CONNECTION): complete one "
                            "before subscribing again",
                            "extensions": {"code": "too_many_subscriptions"},
                        }
                    ],
                }
            )
            return
        await super().handle_subscribe(message)


class LegacyWSHandler(BaseGraphQLWSHandler[Context, None]):
    """The legacy graphql-ws protocol, under the same subscription cap."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_subscriptions_per_connection = _subscription_cap()


class _Sweeper:
    def __init__(self, every: int) -> None:
        self.every = every
        self.closed = 0

    def connection_closed(self) -> None:
        self.closed += 1
        if self.closed >= self.every:
            self.closed = 0
            gc.collect()


SWEEPER = _Sweeper(COLLECT_AFTER_CLOSED)


class WebSocketSessions(GraphQL[Context, None]):
    """The view's WebSocket side: when a connection ends, its token slot is given
    back and its context lets go of the socket (see the module docstring)."""

    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler
    websocket_adapter_class = RejectionReasonAdapter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await super().__call__(scope, receive, send)
            return
        try:
            await super().__call__(scope, receive, send)
        finally:
            # By now the handler has awaited every operation of the connection.
            slot = scope.pop(SLOT_SCOPE_KEY, None)
            if slot is not None:
                SLOTS.release(slot)
            context = scope.pop(CONTEXT_SCOPE_KEY, None)
            if isinstance(context, Context):
                context.release()
                SWEEPER.connection_closed()
