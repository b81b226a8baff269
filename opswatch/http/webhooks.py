"""Alert webhooks: Alertmanager, Keep, generic JSON and agents.

A 202 means the events are in the inbox (committed); anything else means
nothing was stored, and the sender should retry (5xx, 429) or fix the
request (4xx, with the field named). Everything a sender can get wrong, an
unknown severity word included, is found while parsing, before the inbox.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

from opswatch import runtime
from opswatch.alerts import inbox
from opswatch.alerts.bounds import may_hold_nul, without_nul
from opswatch.alerts.normalize import (
    NormalizedEvent,
    parse_alertmanager,
    parse_generic,
    parse_keep,
)
from opswatch.errors import OpsWatchError
from opswatch.http.limits import BodyTooLarge
from opswatch.http.rest import caller, error, error_of
from opswatch.metrics.definitions import webhook_answered
from opswatch.tenants.principal import Principal
from opswatch.tenants.ratelimit import retry_after
from opswatch.tenants.tenants import severity_mapping_of

Parser = Callable[[Any, Principal], list[NormalizedEvent]]


async def read_body(request: Request, limit: int) -> bytes | None:
    """The body, or None when it is over ``limit`` bytes. The app's body limit
    (``opswatch.http.limits``) counts while streaming and refuses a declared
    length at once; ``limit`` may only be stricter than the app's."""
    try:
        body = await request.body()
    except BodyTooLarge:
        return None
    except ClientDisconnect:
        raise SenderGone from None
    return body if len(body) <= limit else None


class SenderGone(Exception):
    """The sender hung up before its body arrived: nothing to store, nobody to answer."""


async def _receive(request: Request, parse: Parser) -> JSONResponse:
    principal = await caller(request, allow_user_token=False)
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
    if may_hold_nul(body):
        payload = without_nul(payload)
    try:
        events = parse(payload, principal)
    except OpsWatchError as failure:
        return error_of(failure)
    try:
        ids = await inbox.accept(
            tenant=principal.tenant, api_key=principal.api_key, events=events, raw=payload
        )
    except inbox.Unstorable:
        return error(422, "unstorable", "the database refused this body's data", "body")
    return Accepted(ids)


class Accepted(JSONResponse):
    """The 202 answer, keeping the count so the metrics need not parse the body back."""

    def __init__(self, ids: list[Any]) -> None:
        super().__init__({"accepted": len(ids), "events": [str(i) for i in ids]}, status_code=202)
        self.accepted = len(ids)


def _severity_mapping(principal: Principal) -> dict[str, str]:
    """The tenant's own words, as the credential loaded its tenant: a change reaches
    the other processes within the key cache's few seconds."""
    return severity_mapping_of(principal.tenant)


async def alertmanager(request: Request) -> JSONResponse:
    def parse(body: Any, principal: Principal) -> list[NormalizedEvent]:
        return parse_alertmanager(body, severity_mapping=_severity_mapping(principal))

    return webhook_answered("alertmanager", await _receive(request, parse))


async def keep(request: Request) -> JSONResponse:
    def parse(body: Any, principal: Principal) -> list[NormalizedEvent]:
        return parse_keep(body, severity_mapping=_severity_mapping(principal))

    return webhook_answered("keep", await _receive(request, parse))


async def generic(request: Request) -> JSONResponse:
    def parse(body: Any, principal: Principal) -> list[NormalizedEvent]:
        field_map = principal.api_key.field_map if principal.api_key else {}
        return parse_generic(body, field_map, severity_mapping=_severity_mapping(principal))

    return webhook_answered("generic", await _receive(request, parse))
