"""Vonage's callbacks: the digit pressed (NCCO input), call events, SMS receipts and replies.

Voice webhooks are signed: ``Authorization: Bearer <JWT>`` signed (HS256) with
the tenant's signature secret, whose ``payload_hash`` claim is the SHA-256 of
the body. SMS webhooks carry a ``sig`` over their parameters (HMAC-SHA256 with
the same secret: set the account's signature method to "SHA-256 HMAC"). A bad
or missing signature is a 403 and changes nothing. Voice answers are NCCO JSON.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import jwt
import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from vonage_http_client import Auth

from opswatch import runtime
from opswatch.errors import MalformedBody
from opswatch.escalation import replies
from opswatch.escalation.providers.vonage import DIGIT_WAIT_SECONDS
from opswatch.http.telephony import advance, event_of, forbidden
from opswatch.models import DeliveryStatus, EscalationEvent, Tenant
from opswatch.tenants.tenants import read_secrets

CALL_STATUS = {
    "started": DeliveryStatus.QUEUED,
    "ringing": DeliveryStatus.SENT,
    "answered": DeliveryStatus.ANSWERED,
    "busy": DeliveryStatus.NO_ANSWER,
    "timeout": DeliveryStatus.NO_ANSWER,
    "unanswered": DeliveryStatus.NO_ANSWER,
    "rejected": DeliveryStatus.NO_ANSWER,
    "failed": DeliveryStatus.FAILED,
    "cancelled": DeliveryStatus.FAILED,
    "delivered": DeliveryStatus.DELIVERED,  # SMS receipts
    "accepted": DeliveryStatus.SENT,
    "buffered": DeliveryStatus.SENT,
    "expired": DeliveryStatus.FAILED,
}
REPLAY_WINDOW_SECONDS = 300


def _secret(tenant: Tenant | None) -> str | None:
    if tenant is None:
        return None
    return read_secrets(tenant, runtime.current().secret_box).get("vonage_signature_secret")


async def _signed_json(request: Request, tenant: Tenant | None) -> dict[str, Any] | None:
    """The JSON body of a voice webhook whose JWT checks out, else None."""
    secret = _secret(tenant)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if not secret or scheme.lower() != "bearer" or not token:
        return None
    body = await request.body()
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"])
    except jwt.PyJWTError:
        return None
    digest = hashlib.sha256(body).hexdigest()
    if not hmac.compare_digest(str(claims.get("payload_hash", "")), digest):
        return None
    try:
        data = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def _talk(text: str) -> JSONResponse:
    return JSONResponse([{"action": "talk", "text": text}])


async def gather(request: Request) -> Response:
    """The NCCO input's result: 1 acknowledges, 2 escalates; nothing, once more."""
    event, tenant = await event_of(request)
    data = await _signed_json(request, tenant)
    if data is None or event is None:
        return forbidden()
    digits = str((data.get("dtmf") or {}).get("digits") or "")
    if digits == "1":
        return _talk(f"{(await replies.acknowledge_by_phone(event, 'phone')).text} Goodbye.")
    if digits == "2":
        return _talk(f"{(await replies.escalate_by_phone(event, 'phone')).text} Goodbye.")
    if request.query_params.get("attempt") == "1":
        base = runtime.current().settings.public_url
        again = (
            f"{base}/api/v1/vonage/gather?alert_id={request.query_params.get('alert_id')}"
            f"&event_id={event.id}&attempt=2"
        )
        return JSONResponse(
            [
                {"action": "talk", "text": event.message or "", "bargeIn": True},
                {
                    "action": "input",
                    "type": ["dtmf"],
                    "dtmf": {"maxDigits": 1, "timeOut": DIGIT_WAIT_SECONDS},
                    "eventUrl": [again],
                    "eventMethod": "POST",
                },
            ]
        )
    await EscalationEvent.filter(id=event.id).update(
        status=DeliveryStatus.NO_ANSWER, reason="no digit pressed after two prompts"
    )
    return _talk("No input received. Goodbye.")


async def status(request: Request) -> Response:
    """Call events (signed JSON) and SMS delivery receipts (signed parameters)."""
    event, tenant = await event_of(request)
    if event is None:
        return forbidden()
    if request.headers.get("authorization"):
        data = await _signed_json(request, tenant)
    else:
        data = await _signed_params(request, tenant)
    if data is None:
        return forbidden()
    new = CALL_STATUS.get(str(data.get("status", "")).lower())
    await advance(event, new, f"Vonage: {data.get('status')} {data.get('err-code', '')}".strip())
    return Response(status_code=204)


async def sms(request: Request) -> Response:
    """An inbound SMS (ACK, ESC, "ACK abc123"); answered by SMS through the provider."""
    params = await _params(request)
    number = params.get("to", "")
    tenant = await Tenant.get_or_none(telephony_number=f"+{number.lstrip('+')}") if number else None
    if await _signed_params(request, tenant, params) is None or tenant is None:
        return forbidden()
    sender = f"+{params.get('msisdn', '').lstrip('+')}"
    outcome = await replies.sms_reply(tenant, sender, params.get("text", ""))
    from opswatch.tenants.telephony import provider_for

    current = runtime.current()
    provider = provider_for(tenant, current.settings, current.secret_box)
    if provider is not None:
        await provider.text(to=sender, body=f"[OpsWatch] {outcome.text}", status_url="")
    return Response(status_code=204)


async def _params(request: Request) -> dict[str, str]:
    if request.method == "GET":
        return dict(request.query_params)
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = orjson.loads(await request.body() or b"{}")
        except orjson.JSONDecodeError:
            raise MalformedBody("the body is not JSON", field="body") from None
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    return {k: str(v) for k, v in (await request.form()).items()}


async def _signed_params(
    request: Request, tenant: Tenant | None, params: dict[str, str] | None = None
) -> dict[str, str] | None:
    secret = _secret(tenant)
    values = dict(params if params is not None else await _params(request))
    if tenant is None or not secret or "sig" not in values:
        return None
    api_key = read_secrets(tenant, runtime.current().secret_box).get("vonage_api_key")
    checker = Auth(api_key=api_key, signature_secret=secret, signature_method="sha256")
    if not checker.check_signature(dict(values)):
        return None
    stamp = values.get("timestamp", "")
    # The signed timestamp bounds replays of a captured request to five minutes.
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > REPLAY_WINDOW_SECONDS:
        return None
    return values
