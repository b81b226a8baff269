"""A fake Vonage (Voice API call creation and SMS API) for the real ``vonage`` SDK.

Covers what OpsWatch sends:

- ``POST /v1/calls`` (Voice API): ``Authorization: Bearer <JWT>`` signed RS256 by an
  application's private key, verified against the public key of the application
  named by its ``application_id`` claim (expiry checked); the JSON body is recorded
  in ``calls`` (plus ``uuid`` and ``application_id``) and answered 201 with
  ``{"uuid", "status": "started", "direction": "outbound", "conversation_uuid"}``.
  A bad or missing token: 401 with Vonage's problem JSON (``title`` "Unauthorized").
  A body without ``to``, or without ``ncco`` and ``answer_url``: 400.
- ``POST /sms/json`` (SMS API): the SDK sends a form with ``Authorization: Basic``
  (api_key:api_secret); ``api_key``/``api_secret`` in the form (or in a JSON body)
  are accepted too. Answered 200 with one message part: status "0" and a
  ``message-id``; bad credentials are status "4", "Bad Credentials", and missing
  credentials or ``to``/``from``/``text`` status "2", still with HTTP 200, as the SMS
  API reports them. Accepted messages are recorded in ``messages`` (the fields,
  without ``api_secret``, plus ``api_key`` and ``message-id``).
- ``GET /account/get-balance`` (Account API, how ``testTelephony`` checks
  credentials): api_key:api_secret by ``Authorization: Basic`` (as the SDK sends
  them) or as ``api_key``/``api_secret`` query parameters; answered 200 with
  ``{"value": <balance in EUR>, "autoReload": false}``, or 401 with the problem JSON
  for missing or wrong credentials.
- ``fail_next``/``delay_next`` for every endpoint.

Not covered: the rest of the Voice API (fetching, updating, NCCO execution, event
webhooks back to the caller), multi-part SMS, signed SMS requests (``sig``),
delivery receipts, the Messages API, and validating numbers or NCCO actions.

The SDK always builds ``https://{host}{path}`` (``vonage_http_client.HttpClient
.make_request``), so the fake serves HTTPS with a self-signed certificate for
127.0.0.1 and localhost, written to ``ca_path`` while it runs. The SDK's requests
``Session`` leaves ``verify`` at True, so requests reads ``REQUESTS_CA_BUNDLE`` on every
request; a test trusts the fake (and only it) with::

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", fake.ca_path)
    client = Vonage(
        Auth(application_id=app_id, private_key=private_pem, api_key=key, api_secret=secret),
        HttpClientOptions(api_host=fake.host, rest_host=fake.host),
    )

The SDK is synchronous: call it with ``await asyncio.to_thread(...)`` so the fake,
which runs on the test's event loop, can answer.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import json
import secrets
import shutil
import string
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes._server import FakeServer

ERRORS_URL = "https://developer.nexmo.com/api-errors"
SECRET_ALPHABET = string.ascii_letters + string.digits


def problem(status: int, detail: str) -> dict[str, Any]:
    """Vonage's error body (RFC 7807 style) for an HTTP status."""
    title = HTTPStatus(status).phrase
    return {
        "type": f"{ERRORS_URL}#{title.lower().replace(' ', '-')}",
        "title": title,
        "detail": detail,
        "instance": str(uuid.uuid4()),
    }


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """Writes a key and a self-signed certificate for 127.0.0.1 and localhost, valid
    for a day; returns (key path, certificate path)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = directory / "key.pem", directory / "cert.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


class FakeVonage(FakeServer):
    """``async with FakeVonage() as fake:`` serves HTTPS on ``fake.host`` until the block
    ends; ``fake.ca_path`` is the certificate to trust meanwhile."""

    scheme = "https"

    def __init__(self) -> None:
        super().__init__()
        self.applications: dict[str, str] = {}
        self.accounts: dict[str, str] = {}
        self.balances: dict[str, float] = {}
        self.calls: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []
        self._tls_directory: Path | None = None
        self._tls_files: tuple[Path, Path] | None = None

    @property
    def ca_path(self) -> str:
        """The fake's certificate (PEM): the only CA a client needs to trust it."""
        if self._tls_files is None:
            raise RuntimeError("FakeVonage is not running")
        return str(self._tls_files[1])

    def add_application(self) -> tuple[str, str, str]:
        """Registers an application with a fresh RSA 2048 key pair: returns
        (application id, private key PEM (PKCS#8, as the SDK wants it), public key PEM)."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        public_pem = (
            key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        application_id = str(uuid.uuid4())
        self.applications[application_id] = public_pem
        return application_id, private_pem, public_pem

    def add_account(self, balance: float = 12.5) -> tuple[str, str]:
        """Registers an account: (api_key 8 hex, api_secret 16 letters/digits), shaped as
        Vonage's are so that OpsWatch's credential checks accept them."""
        api_key = secrets.token_hex(4)
        api_secret = "".join(secrets.choice(SECRET_ALPHABET) for _ in range(16))
        self.accounts[api_key] = api_secret
        self.balances[api_key] = balance
        return api_key, api_secret

    def rotate_secret(self, api_key: str) -> str:
        """A new api_secret for ``api_key`` (the dashboard's "create new secret", the old
        one deleted): the old secret is refused from now on."""
        self.accounts[api_key] = "".join(secrets.choice(SECRET_ALPHABET) for _ in range(16))
        return self.accounts[api_key]

    def fail_next(self, status: int, times: int = 1) -> None:
        """The next ``times`` requests (calls or SMS) answer ``status`` with Vonage's
        problem JSON, before authentication and unrecorded."""
        self._queue_failure(status, problem(status, "Injected by FakeVonage."), times)

    # Server

    def tls_files(self) -> tuple[str, str] | None:
        if self._tls_files is None:
            return None
        key_path, cert_path = self._tls_files
        return str(key_path), str(cert_path)

    async def start(self) -> None:
        self._tls_directory = Path(tempfile.mkdtemp(prefix="fake-vonage-"))
        self._tls_files = self_signed_certificate(self._tls_directory)
        try:
            await super().start()
        except BaseException:
            self._remove_tls_files()
            raise

    async def stop(self) -> None:
        try:
            await super().stop()
        finally:
            self._remove_tls_files()

    def _remove_tls_files(self) -> None:
        if self._tls_directory is not None:
            shutil.rmtree(self._tls_directory, ignore_errors=True)
        self._tls_directory = self._tls_files = None

    def routes(self) -> list[Route]:
        return [
            Route("/v1/calls", self._create_call, methods=["POST"]),
            Route("/sms/json", self._send_sms, methods=["POST"]),
            Route("/account/get-balance", self._get_balance, methods=["GET"]),
        ]

    # Account API

    async def _get_balance(self, request: Request) -> Response:
        injected = await self.injected()
        if injected is not None:
            return injected
        api_key, api_secret = self._sms_credentials(request, dict(request.query_params))
        known = self.accounts.get(api_key, "")
        if not api_secret or not hmac.compare_digest(known.encode(), api_secret.encode()):
            return JSONResponse(
                problem(401, "You did not provide correct credentials."), status_code=401
            )
        return JSONResponse({"value": self.balances.get(api_key, 0.0), "autoReload": False})

    # Voice API

    async def _create_call(self, request: Request) -> Response:
        injected = await self.injected()
        if injected is not None:
            return injected
        application_id = self._verified_application(request)
        if application_id is None:
            return JSONResponse(
                problem(401, "You did not provide correct credentials."), status_code=401
            )
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        if (
            not isinstance(body, dict)
            or not body.get("to")
            or not (body.get("ncco") or body.get("answer_url"))
        ):
            detail = "The request needs `to` and one of `ncco` or `answer_url`."
            return JSONResponse(problem(400, detail), status_code=400)
        call_uuid = str(uuid.uuid4())
        self.calls.append({**body, "uuid": call_uuid, "application_id": application_id})
        return JSONResponse(
            {
                "uuid": call_uuid,
                "status": "started",
                "direction": "outbound",
                "conversation_uuid": f"CON-{uuid.uuid4()}",
            },
            status_code=201,
        )

    def _verified_application(self, request: Request) -> str | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
            application_id = unverified.get("application_id")
            public_pem = self.applications.get(str(application_id))
            if public_pem is None:
                return None
            jwt.decode(
                token,
                public_pem,
                algorithms=["RS256"],
                options={"require": ["application_id", "iat", "exp"]},
            )
        except jwt.InvalidTokenError:
            return None
        return str(application_id)

    # SMS API

    async def _send_sms(self, request: Request) -> Response:
        injected = await self.injected()
        if injected is not None:
            return injected
        fields = await self._sms_fields(request)
        api_key, api_secret = self._sms_credentials(request, fields)
        if not api_key or not api_secret:
            return self._sms_refusal(fields, "2", "Missing api_key or api_secret")
        if not hmac.compare_digest(self.accounts.get(api_key, "").encode(), api_secret.encode()):
            return self._sms_refusal(fields, "4", "Bad Credentials")
        for required in ("from", "to", "text"):
            if not fields.get(required):
                return self._sms_refusal(fields, "2", f"Missing {required} param")
        message_id = secrets.token_hex(8).upper()
        recorded = {k: v for k, v in fields.items() if k not in ("api_key", "api_secret")}
        self.messages.append({**recorded, "api_key": api_key, "message-id": message_id})
        part = {
            "to": fields["to"],
            "message-id": message_id,
            "status": "0",
            "remaining-balance": "10.0",
            "message-price": "0.05",
            "network": "26202",
        }
        if fields.get("client-ref"):
            part["client-ref"] = fields["client-ref"]
        return JSONResponse({"message-count": "1", "messages": [part]})

    @staticmethod
    async def _sms_fields(request: Request) -> dict[str, str]:
        raw = await request.body()
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                loaded = json.loads(raw)
            except ValueError:
                return {}
            if not isinstance(loaded, dict):
                return {}
            return {str(k): str(v) for k, v in loaded.items() if v is not None}
        return dict(parse_qsl(raw.decode(), keep_blank_values=True))

    @staticmethod
    def _sms_credentials(request: Request, fields: dict[str, str]) -> tuple[str, str]:
        if fields.get("api_key"):
            return fields["api_key"], fields.get("api_secret", "")
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return "", ""
        try:
            decoded = base64.b64decode(encoded, validate=True).decode()
        except (binascii.Error, ValueError):
            return "", ""
        api_key, _, api_secret = decoded.partition(":")
        return api_key, api_secret

    @staticmethod
    def _sms_refusal(fields: dict[str, str], status: str, error_text: str) -> Response:
        part = {"status": status, "error-text": error_text}
        if fields.get("to"):
            part = {"to": fields["to"], **part}
        return JSONResponse({"message-count": "1", "messages": [part]})
