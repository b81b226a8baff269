"""What the app answers when a handler fails: the database's outage is a 503, a bug a 500.

``database_failure`` handles the errors a database client raises, on every
route: when the database cannot answer now (``dberrors.retryable``) the answer
is a 503 with ``Retry-After`` and the log gets one line; anything else goes on
to ``answer``, Starlette's handler of last resort (its ``ServerErrorMiddleware``),
which answers in the JSON error shape: 422 when the database refused a value
the client sent, 503 for an outage it meets, 500 otherwise.

Starlette re-raises the error after answering, for the server to log; uvicorn
then logs it and closes the connection, so a keep-alive client's next request
on it failed as well. ``LastResortGuard``, around the whole app, logs the error
once and ends the request normally; a request whose answer had begun when it
failed is logged the same way and left for the server to close.
"""

from __future__ import annotations

import logging
import sqlite3

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket
from tortoise.exceptions import BaseORMException

from opswatch.dberrors import refused_data, retryable
from opswatch.http.rest import error
from opswatch.http.watch import ResponseWatch

log = logging.getLogger(__name__)

UNAVAILABLE_MESSAGE = "the database is unavailable; retry"

# What a database call raises, outermost: Tortoise's wrappers, the drivers' own
# errors, and the socket errors of a connection that went away.
DATABASE_ERRORS: tuple[type[Exception], ...] = (
    BaseORMException,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    sqlite3.Error,
    OSError,
    TimeoutError,
)


def unavailable() -> JSONResponse:
    return error(503, "unavailable", UNAVAILABLE_MESSAGE)


def _response_for(failure: BaseException) -> JSONResponse:
    if retryable(failure):
        return unavailable()
    if refused_data(failure):
        return error(422, "invalid_input", "the database refused a value of this request")
    return error(500, "internal", "something went wrong on our side; it has been logged")


async def database_failure(connection: Request | WebSocket, failure: Exception) -> JSONResponse:
    if isinstance(connection, WebSocket) or not retryable(failure):
        raise failure
    _note(connection.scope, failure)
    return unavailable()


async def answer(request: Request, failure: Exception) -> JSONResponse:
    return _response_for(failure)


def _note(scope: Scope, failure: BaseException) -> None:
    where = f"{scope.get('method', '')} {scope.get('path', '')}".strip()
    if retryable(failure):
        # An outage fails every request alike: one line each, not a traceback each.
        log.warning("%s: database unavailable (%s: %s)", where, type(failure).__name__, failure)
    else:
        log.error("%s failed", where, exc_info=failure)


class LastResortGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        watch = ResponseWatch(send)
        try:
            await self.app(scope, receive, watch.send)
        except Exception as failure:
            _note(scope, failure)
            if not watch.started:
                await _response_for(failure)(scope, receive, send)
