"""Twilio's callbacks: the digit pressed on a call, call and SMS status, SMS replies.

Every request must carry a valid ``X-Twilio-Signature`` for the tenant's auth
token, computed over the public URL (``OPSWATCH_PUBLIC_URL`` plus path and
query, as Twilio saw it from outside any proxy) and the form fields. A bad or
missing signature is a 403 and changes nothing. Answers are TwiML.
"""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import Response
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Gather, VoiceResponse

from opswatch import runtime
from opswatch.escalation import replies
from opswatch.escalation.providers.twilio import GATHER_SECONDS
from opswatch.models import DeliveryStatus, EscalationEvent, Tenant
from opswatch.tenants.tenants import read_secrets

TWIML = "application/xml"

CALL_STATUS = {
    "queued": DeliveryStatus.QUEUED,
    "initiated": DeliveryStatus.QUEUED,
    "ringing": DeliveryStatus.SENT,
    "in-progress": DeliveryStatus.ANSWERED,
    "answered": DeliveryStatus.ANSWERED,
    "busy": DeliveryStatus.NO_ANSWER,
    "no-answer": DeliveryStatus.NO_ANSWER,
    "failed": DeliveryStatus.FAILED,
    "canceled": DeliveryStatus.FAILED,
}
SMS_STATUS = {
    "accepted": DeliveryStatus.QUEUED,
    "queued": DeliveryStatus.QUEUED,
    "sending": DeliveryStatus.QUEUED,
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "undelivered": DeliveryStatus.FAILED,
    "failed": DeliveryStatus.FAILED,
}
# Progress never goes backwards: a late "ringing" does not undo "answered".
RANK = {
    DeliveryStatus.QUEUED: 1,
    DeliveryStatus.SENT: 2,
    DeliveryStatus.DELIVERED: 3,
    DeliveryStatus.NO_ANSWER: 3,
    DeliveryStatus.FAILED: 3,
    DeliveryStatus.ANSWERED: 4,
}


def _twiml(body: object, status: int = 200) -> Response:
    return Response(str(body), status_code=status, media_type=TWIML)


def _forbidden() -> Response:
    return Response("signature check failed", status_code=403, media_type="text/plain")


async def _verified(request: Request, tenant: Tenant | None) -> dict[str, str] | None:
    """The form fields, or None when the signature does not check out."""
    if tenant is None:
        return None
    current = runtime.current()
    token = read_secrets(tenant, current.secret_box).get("twilio_auth_token")
    signature = request.headers.get("x-twilio-signature")
    if not token or not signature:
        return None
    form = {k: str(v) for k, v in (await request.form()).items()}
    url = f"{current.settings.public_url}{request.url.path}"
    if request.url.query:
        url += f"?{request.url.query}"
    return form if RequestValidator(token).validate(url, form, signature) else None


async def _event(request: Request) -> tuple[EscalationEvent | None, Tenant | None]:
    try:
        event_id = uuid.UUID(request.query_params.get("event_id", ""))
    except ValueError:
        return None, None
    event = await EscalationEvent.get_or_none(id=event_id)
    if event is None:
        return None, None
    return event, await Tenant.get_or_none(id=event.tenant_id)  # type: ignore[attr-defined]


async def gather(request: Request) -> Response:
    """The digit pressed: 1 acknowledges, 2 escalates; nothing, once more, then goodbye."""
    event, tenant = await _event(request)
    form = await _verified(request, tenant)
    if form is None or event is None:
        return _forbidden()
    digits = form.get("Digits", "")
    query = request.url.query
    base = f"{runtime.current().settings.public_url}/api/v1/twilio"
    response = VoiceResponse()
    if digits == "1":
        response.redirect(f"{base}/acknowledge?{query}", method="POST")
    elif digits == "2":
        response.redirect(f"{base}/escalate?{query}", method="POST")
    elif request.query_params.get("attempt") == "1":
        again = f"alert_id={request.query_params.get('alert_id')}&event_id={event.id}&attempt=2"
        prompt = Gather(
            num_digits=1, action=f"{base}/gather?{again}", method="POST", timeout=GATHER_SECONDS
        )
        prompt.say(event.message or "Press 1 to acknowledge. Press 2 to escalate.")
        response.append(prompt)
        response.redirect(f"{base}/gather?{again}&timeout=1", method="POST")
    else:
        await EscalationEvent.filter(id=event.id).update(
            status=DeliveryStatus.NO_ANSWER, reason="no digit pressed after two prompts"
        )
        response.say("No input received. Goodbye.")
        response.hangup()
    return _twiml(response)


async def acknowledge(request: Request) -> Response:
    event, tenant = await _event(request)
    if await _verified(request, tenant) is None or event is None:
        return _forbidden()
    outcome = await replies.acknowledge_by_phone(event, "phone")
    response = VoiceResponse()
    response.say(f"{outcome.text} Goodbye.")
    response.hangup()
    return _twiml(response)


async def escalate(request: Request) -> Response:
    event, tenant = await _event(request)
    if await _verified(request, tenant) is None or event is None:
        return _forbidden()
    outcome = await replies.escalate_by_phone(event, "phone")
    response = VoiceResponse()
    response.say(f"{outcome.text} Goodbye.")
    response.hangup()
    return _twiml(response)


async def status(request: Request) -> Response:
    """Call and SMS progress from Twilio, kept on the attempt it belongs to."""
    event, tenant = await _event(request)
    form = await _verified(request, tenant)
    if form is None or event is None:
        return _forbidden()
    reported = form.get("CallStatus")
    new = (
        CALL_STATUS.get(reported or "")
        if reported
        else SMS_STATUS.get(form.get("MessageStatus", ""))
    )
    if new is not None and RANK.get(new, 0) > RANK.get(event.status, 0):
        values: dict[str, object] = {"status": new}
        if new is DeliveryStatus.FAILED:
            values["reason"] = f"Twilio: {form.get('ErrorCode') or reported or 'failed'}"
        await EscalationEvent.filter(id=event.id).update(**values)
    return Response(status_code=204)


async def sms(request: Request) -> Response:
    """An SMS reply: ACK, ESC, "ACK abc123"; the tenant is the one owning the number texted."""
    form_number = (await request.form()).get("To")
    tenant = await Tenant.get_or_none(telephony_number=str(form_number)) if form_number else None
    form = await _verified(request, tenant)
    if form is None or tenant is None:
        return _forbidden()
    outcome = await replies.sms_reply(tenant, form.get("From", ""), form.get("Body", ""))
    response = MessagingResponse()
    response.message(f"[OpsWatch] {outcome.text}")
    return _twiml(response)
