"""What every REST endpoint shares: error bodies and resolving the caller.

A database that cannot answer is not caught here: the app answers it with a 503
on every route alike (``opswatch.http.failures``).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from opswatch.errors import OpsWatchError, Unauthenticated
from opswatch.tenants.principal import Principal, bearer, principal_from_credential

RETRY_AFTER_SECONDS = "5"


def error(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    """``{"error": {"code", "message", "field"?}}``; 429 and 503 say when to retry."""
    body: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        body["field"] = field
    headers = {"Retry-After": RETRY_AFTER_SECONDS} if status in (429, 503) else None
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def error_of(failure: OpsWatchError) -> JSONResponse:
    return error(failure.http_status, failure.code, failure.message, failure.field)


async def caller(request: Request, *, allow_user_token: bool = True) -> Principal | JSONResponse:
    """The principal behind ``X-API-Key`` or ``Authorization: Bearer``, or the 401
    answer to send instead. Webhooks pass ``allow_user_token=False``."""
    credential = request.headers.get("x-api-key") or bearer(request.headers.get("authorization"))
    if not credential:
        return error(401, "unauthenticated", "send X-API-Key or Authorization: Bearer <key>")
    try:
        return await principal_from_credential(
            credential.strip(), allow_api_key=True, allow_user_token=allow_user_token
        )
    except Unauthenticated as failure:
        return error(401, failure.code, failure.message)
