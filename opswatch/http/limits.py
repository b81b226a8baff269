"""The request body limit, for every route and before any authentication.

A body is refused as soon as it is known to be too large: at once when its
``Content-Length`` says so (nothing of it is read), else when the chunks read so
far exceed the limit. Handlers read bodies as they always did; reading past the
limit raises ``BodyTooLarge``, which the app answers with a 413 wherever it was
raised, so no handler holds more than the limit of one body in memory.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opswatch.errors import OpsWatchError
from opswatch.http.rest import error
from opswatch.http.watch import ResponseWatch


class BodyTooLarge(OpsWatchError):
    code = "too_large"
    http_status = 413

    def __init__(self, limit: int) -> None:
        super().__init__(f"the body exceeds {limit} bytes", field="body")
        self.limit = limit


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            # Answered without reading: the server discards the rest of the body
            # as it arrives, and the connection stays usable.
            await _refuse(BodyTooLarge(self.max_bytes), scope, receive, send)
            return

        received = 0

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        watch = ResponseWatch(send)
        try:
            await self.app(scope, counted_receive, watch.send)
        except BodyTooLarge as refusal:
            # Normally the app's handler for OpsWatchError has answered already; this
            # covers a read outside its reach (a middleware, a background read).
            if watch.started:
                raise
            await _refuse(refusal, scope, receive, send)


async def _refuse(refusal: BodyTooLarge, scope: Scope, receive: Receive, send: Send) -> None:
    response = error(refusal.http_status, refusal.code, refusal.message, refusal.field)
    await response(scope, receive, send)
