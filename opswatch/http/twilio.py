"""Twilio's callbacks: the digit pressed on a call, call and SMS status, SMS replies.

Every request must carry a valid ``X-Twilio-Signature`` for the tenant's auth
token, computed over the public URL (``OPSWATCH_PUBLIC_URL`` plus path and
query, as Twilio saw it from outside any proxy) and the form fields. A bad or
missing signature is a 403 and changes nothing. Answers are TwiML.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Gather, VoiceResponse

from opswatch import runtime
from opswatch.escalation import replies
from opswatch.escalation.providers.twilio import GATHER_SECONDS
from opswatch.http.telephony import advance, event_of, forbidden
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


def _twiml(body: object, status: int = 200) -> Response:
    return Response(str(body), status_code=status, media_type=TWIML)


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


async def gather(request: Request) -> Response:
    """The digit pressed: 1 acknowledges, 2 escalates; nothing, once more, then goodbye."""
    event, tenant = await event_of(request)
    form = await _verified(request, tenant)
    if form is None or event is None:
        return forbidden()
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
    return await _answer(request, replies.acknowledge_by_phone)


async def escalate(request: Request) -> Response:
    return await _answer(request, replies.escalate_by_phone)


async def _answer(
    request: Request, act: Callable[[EscalationEvent, str], Awaitable[replies.Outcome]]
) -> Response:
    """Digit 1 or 2, redirected here by ``gather``: act, say so, hang up."""
    event, tenant = await event_of(request)
    if await _verified(request, tenant) is None or event is None:
        return forbidden()
    outcome = await act(event, "phone")
    response = VoiceResponse()
    response.say(f"{outcome.text} Goodbye.")
    response.hangup()
    return _twiml(response)


async def status(request: Request) -> Response:
    """Call and SMS progress from Twilio, kept on the attempt it belongs to."""
    event, tenant = await event_of(request)
    form = await _verified(request, tenant)
    if form is None or event is None:
        return forbidden()
    reported = form.get("CallStatus")
    new = (
        CALL_STATUS.get(reported or "")
        if reported
        else SMS_STATUS.get(form.get("MessageStatus", ""))
    )
    await advance(event, new, f"Twilio: {form.get('ErrorCode') or reported or 'failed'}")
    return Response(status_code=204)


async def sms(request: Request) -> Response:
    """An SMS reply: ACK, ESC, "ACK abc123"; the tenant is the one owning the number texted."""
    form_number = (await request.form()).get("To")
    tenant = await Tenant.get_or_none(telephony_number=str(form_number)) if form_number else None
    form = await _verified(request, tenant)
    if form is None or tenant is None:
        return forbidden()
    outcome = await replies.sms_reply(tenant, form.get("From", ""), form.get("Body", ""))
    response = MessagingResponse()
    response.message(f"[OpsWatch] {outcome.text}")
    return _twiml(response)
