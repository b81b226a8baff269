"""A fake Twilio REST API (2010-04-01 Calls and Messages) for the real ``twilio`` SDK.

Covers what OpsWatch sends: creating a call (``POST .../Calls.json``) and a message
(``POST .../Messages.json``), form-encoded, and fetching the account itself
(``GET /2010-04-01/Accounts/{Sid}.json``, how ``testTelephony`` checks credentials),
with HTTP basic auth by account SID and auth token, answered with Call, Message and
Account resources as Twilio shapes them (status "queued"; the account "active"),
Twilio's error JSON for bad credentials (401, code 20003), a missing ``To`` (400,
code 21604) and an account SID in the path that is not the one authenticated (404,
code 20404), plus injected failures and delays.

Not covered: anything else of Twilio (fetching other resources, listing or updating, status
callbacks to the caller's URLs, API key (SK...) credentials, subaccounts, regions and
edges, validation of numbers, TwiML or other parameters).

Pointing the SDK at it: ``Domain.absolute_url`` builds every URL of the ``api``
domain (calls and messages included) from ``client.api.base_url``, so::

    http = AsyncTwilioHttpClient()
    client = Client(account_sid, auth_token, http_client=http)
    client.api.base_url = fake.url
    ...
    await http.close()

(Leave ``edge``/``region`` and the TWILIO_EDGE/TWILIO_REGION variables unset: with
them, ``ClientBase.get_hostname`` rewrites the host name.)

Each accepted create is recorded in ``calls`` or ``messages`` as its form fields
(str to str; a repeated field, such as ``StatusCallbackEvent``, as its values joined
by single spaces) plus ``account_sid`` and the ``sid`` answered.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, Literal
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes._server import FakeServer

API_VERSION = "2010-04-01"
Kind = Literal["Calls", "Messages"]


def twilio_error(status: int, code: int, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("latin-1")
    except (binascii.Error, ValueError):
        return None
    username, colon, password = decoded.partition(":")
    return (username, password) if colon else None


class FakeTwilio(FakeServer):
    """``async with FakeTwilio() as fake:`` serves on ``fake.url`` until the block ends."""

    def __init__(self) -> None:
        super().__init__()
        self.accounts: dict[str, str] = {}
        self.friendly_names: dict[str, str] = {}
        self.calls: list[dict[str, str]] = []
        self.messages: list[dict[str, str]] = []

    def add_account(
        self, sid: str | None = None, token: str | None = None, *, friendly_name: str = ""
    ) -> tuple[str, str]:
        """Registers an account: (SID "AC" + 32 hex, auth token 32 hex) unless given,
        shaped as Twilio's are so that OpsWatch's credential checks accept them."""
        sid = sid or "AC" + secrets.token_hex(16)
        token = token or secrets.token_hex(16)
        self.accounts[sid] = token
        # Twilio names a new account after its owner's e-mail; any name will do here.
        self.friendly_names[sid] = friendly_name or f"{sid[:8]} account"
        return sid, token

    def rotate_token(self, sid: str) -> str:
        """A new auth token for ``sid``, as the console's "request a secondary token" and
        promoting it does: the old one is refused (401) from now on."""
        self.accounts[sid] = secrets.token_hex(16)
        return self.accounts[sid]

    def fail_next(
        self,
        status: int,
        *,
        code: int = 20500,
        message: str = "Internal Server Error",
        times: int = 1,
    ) -> None:
        """The next ``times`` requests answer Twilio's error JSON with ``status``
        (before authentication, and unrecorded)."""
        self._queue_failure(status, twilio_error(status, code, message), times)

    def routes(self) -> list[Route]:
        prefix = f"/{API_VERSION}/Accounts/{{account_sid}}"
        return [
            Route(f"/{API_VERSION}/Accounts/{{account_sid}}.json", self._fetch_account),
            Route(f"{prefix}/Calls.json", self._create_call, methods=["POST"]),
            Route(f"{prefix}/Messages.json", self._create_message, methods=["POST"]),
        ]

    async def _fetch_account(self, request: Request) -> Response:
        injected = await self.injected()
        if injected is not None:
            return injected
        account_sid = request.path_params["account_sid"]
        refused = self._refuse(request, account_sid)
        if refused is not None:
            return refused
        uri = f"/{API_VERSION}/Accounts/{account_sid}"
        return JSONResponse(
            {
                "sid": account_sid,
                "owner_account_sid": account_sid,
                "friendly_name": self.friendly_names.get(account_sid, account_sid),
                "status": "active",
                "type": "Full",
                "date_created": _now(),
                "date_updated": _now(),
                "uri": uri + ".json",
                "subresource_uris": {
                    "calls": f"{uri}/Calls.json",
                    "messages": f"{uri}/Messages.json",
                },
            }
        )

    async def _create_call(self, request: Request) -> Response:
        return await self._create(request, "Calls")

    async def _create_message(self, request: Request) -> Response:
        return await self._create(request, "Messages")

    async def _create(self, request: Request, kind: Kind) -> Response:
        injected = await self.injected()
        if injected is not None:
            return injected
        account_sid = request.path_params["account_sid"]
        refused = self._refuse(request, account_sid)
        if refused is not None:
            return refused
        form = self._form(await request.body())
        if not form.get("To"):
            return JSONResponse(
                twilio_error(400, 21604, "A 'To' phone number is required."), status_code=400
            )
        prefix = "CA" if kind == "Calls" else "SM"
        sid = prefix + secrets.token_hex(16)
        (self.calls if kind == "Calls" else self.messages).append(
            {**form, "account_sid": account_sid, "sid": sid}
        )
        uri = f"/{API_VERSION}/Accounts/{account_sid}/{kind}/{sid}"
        resource = self._call(form, uri) if kind == "Calls" else self._message(form, uri)
        return JSONResponse(
            {
                **resource,
                "sid": sid,
                "account_sid": account_sid,
                "api_version": API_VERSION,
                "date_created": _now(),
                "date_updated": _now(),
                "direction": "outbound-api",
                "from": form.get("From"),
                "to": form["To"],
                "price": None,
                "price_unit": "USD",
                "status": "queued",
                "uri": uri + ".json",
            },
            status_code=201,
        )

    def _refuse(self, request: Request, account_sid: str) -> Response | None:
        credentials = _basic_credentials(request)
        if (
            credentials is None
            or credentials[0] not in self.accounts
            or not hmac.compare_digest(
                self.accounts[credentials[0]].encode(), credentials[1].encode()
            )
        ):
            return JSONResponse(
                twilio_error(401, 20003, "Authenticate"),
                status_code=401,
                headers={"WWW-Authenticate": 'Basic realm="Twilio API"'},
            )
        if credentials[0] != account_sid:
            message = f"The requested resource {request.url.path} was not found"
            return JSONResponse(twilio_error(404, 20404, message), status_code=404)
        return None

    @staticmethod
    def _form(body: bytes) -> dict[str, str]:
        values: dict[str, list[str]] = {}
        for name, value in parse_qsl(body.decode(), keep_blank_values=True):
            values.setdefault(name, []).append(value)
        return {name: " ".join(parts) for name, parts in values.items()}

    @staticmethod
    def _call(form: dict[str, str], uri: str) -> dict[str, Any]:
        return {
            "annotation": None,
            "answered_by": None,
            "caller_name": None,
            "duration": None,
            "end_time": None,
            "forwarded_from": None,
            "from_formatted": form.get("From"),
            "group_sid": None,
            "parent_call_sid": None,
            "phone_number_sid": None,
            "queue_time": "0",
            "start_time": None,
            "stir_verstat": None,
            "to_formatted": form["To"],
            "trunk_sid": None,
            "subresource_uris": {
                name: f"{uri}/{name.title().replace('_', '')}.json"
                for name in ("events", "notifications", "recordings", "payments", "streams")
            },
        }

    @staticmethod
    def _message(form: dict[str, str], uri: str) -> dict[str, Any]:
        return {
            "body": form.get("Body", ""),
            "date_sent": None,
            "error_code": None,
            "error_message": None,
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "num_media": "0",
            "num_segments": "1",
            "subresource_uris": {"media": f"{uri}/Media.json", "feedback": f"{uri}/Feedback.json"},
        }


def _now() -> str:
    """RFC 2822, as Twilio writes dates: "Tue, 04 Mar 2025 12:00:00 +0000"."""
    return format_datetime(datetime.now(UTC).replace(microsecond=0))
