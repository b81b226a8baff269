"""Alert webhooks: Alertmanager, Keep, generic JSON and agents.

A 202 means the events are in the inbox (committed); anything else means
nothing was stored, and the sender should retry (5xx, 429) or fix the
request (4xx, with the field named).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

from opswatch import runtime
from opswatch.alerts import inbox
from opswatch.alerts.normalize import (
    NormalizedEvent,
    parse_alertmanager,
    parse_generic,
    parse_keep,
)
from opswatch.errors import OpsWatchError
from opswatch.http.rest import DATABASE_DOWN, caller, error, error_of
from opswatch.tenants.principal import Principal
from opswatch.tenants.ratelimit import retry_after

Parser = Callable[[Any, Principal], list[NormalizedEvent]]


async def read_body(request: Request, limit: int) -> bytes | None:
    """The body, or None when it is over ``limit`` bytes (checked while streaming)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
    except ClientDisconnect:
        raise SenderGone from None
    return b"".join(chunks)


class SenderGone(Exception):
    """The sender hung up before its body arrived: nothing to store, nobody to answer."""


async def _receive(request: Request, parse: Parser) -> JSONResponse:
    principal = await caller(request)
    if isinstance(principal, JSONResponse):
        return principal
    settings = runtime.current().settings

    if principal.api_key is not None:
        wait = await retry_after(principal.api_key.id, principal.api_key.rate_limit_per_minute)
        if wait is not None:
            response = error(429, "rate_limited", "this key's rate limit is exhausted")
            response.headers["Retry-After"] = str(wait)
            return response

    try:
        body = await read_body(request, settings.max_body_bytes)
    except SenderGone:
        return error(400, "incomplete_body", "the connection closed before the body arrived")
    if body is None:
        return error(413, "too_large", f"the body exceeds {settings.max_body_bytes} bytes", "body")
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as failure:
        return error(400, "malformed_json", f"the body is not JSON: {failure}", "body")
    try:
        events = parse(payload, principal)
    except OpsWatchError as failure:
        return error_of(failure)
    try:
        ids = await inbox.accept(
            tenant=principal.tenant, api_key=principal.api_key, events=events, raw=payload
        )
    except DATABASE_DOWN:
        return error(503, "unavailable", "the database is unavailable; retry")
    return JSONResponse({"accepted": len(ids), "events": [str(i) for i in ids]}, status_code=202)


async def alertmanager(request: Request) -> JSONResponse:
    return await _receive(request, lambda body, _: parse_alertmanager(body))


async def keep(request: Request) -> JSONResponse:
    return await _receive(request, lambda body, _: parse_keep(body))


async def generic(request: Request) -> JSONResponse:
    def parse(body: Any, principal: Principal) -> list[NormalizedEvent]:
        field_map = principal.api_key.field_map if principal.api_key else {}
        return parse_generic(body, field_map)

    return await _receive(request, parse)
