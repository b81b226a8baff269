"""Asking the tenant's telephony provider whether it accepts the stored credentials.

One authenticated read of the provider's own account (Twilio: the Account resource;
Vonage: the account balance), which places no call, sends no SMS and costs nothing.
What the provider answered is reported as it said it, success or not: a refusal, an
outage or no answer at all is a result to show the admin, never an error of ours.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client
from vonage import Auth, HttpClientOptions, Vonage
from vonage_http_client.errors import HttpRequestError

from opswatch.config import Settings
from opswatch.crypto import SecretBox
from opswatch.errors import InvalidInput
from opswatch.models import Tenant
from opswatch.tenants.tenants import read_secrets

CHECK_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class TelephonyCheck:
    provider: str
    ok: bool
    status: int | None  # the provider's HTTP status; None when it never answered
    message: str


async def check_telephony(*, tenant: Tenant, settings: Settings, box: SecretBox) -> TelephonyCheck:
    provider = (tenant.settings.get("telephony") or {}).get("provider")
    if provider is None:
        raise InvalidInput(
            "this tenant has no telephony provider: configure it first "
            "(configureTelephony, or opswatch tenant configure-telephony)"
        )
    secrets = read_secrets(tenant, box)
    if provider == "twilio":
        return await _ask_twilio(secrets, settings.twilio_api_url)
    return await asyncio.to_thread(_ask_vonage, secrets, settings.vonage_api_url)


async def _ask_twilio(secrets: dict[str, str], api_url: str | None) -> TelephonyCheck:
    sid = secrets["twilio_account_sid"]
    http = AsyncTwilioHttpClient()
    client = Client(sid, secrets["twilio_auth_token"], http_client=http)
    if api_url:  # as the provider does: the tests' fake Twilio
        client.api.base_url = api_url
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            answer = await client.api.v2010.accounts(sid).fetch_with_http_info_async()
    except TwilioRestException as error:
        said = f"Twilio answered {error.status} (error {error.code}): {error.msg}"
        return TelephonyCheck("twilio", False, error.status, said)
    except (TimeoutError, aiohttp.ClientError) as error:
        return TelephonyCheck("twilio", False, None, f"could not reach Twilio: {_reason(error)}")
    finally:
        await http.close()
    account = answer.data
    said = f"account {account.friendly_name!r} is {account.status}"
    return TelephonyCheck("twilio", True, answer.status_code, said)


def _ask_vonage(secrets: dict[str, str], api_url: str | None) -> TelephonyCheck:
    """Synchronous (the Vonage SDK uses requests): run it in a worker thread."""
    host = urlsplit(api_url).netloc if api_url else None
    options = HttpClientOptions(
        timeout=CHECK_TIMEOUT_SECONDS,
        max_retries=0,
        **({"api_host": host, "rest_host": host} if host else {}),
    )
    client = Vonage(
        Auth(api_key=secrets["vonage_api_key"], api_secret=secrets["vonage_api_secret"]),
        options,
    )
    try:
        balance = client.account.get_balance()
    except HttpRequestError as error:
        status = error.response.status_code
        said = f"Vonage answered {status}: {_vonage_said(error.response)}"
        return TelephonyCheck("vonage", False, status, said)
    except requests.RequestException as error:
        return TelephonyCheck("vonage", False, None, f"could not reach Vonage: {_reason(error)}")
    finally:
        # The SDK has no close(); without this its session keeps a TLS connection open.
        client.http_client._session.close()
    reload = ", auto-reload on" if balance.auto_reload else ""
    return TelephonyCheck("vonage", True, 200, f"balance {balance.value:.2f} EUR{reload}")


def _vonage_said(response: requests.Response) -> str:
    """Vonage's own words: its problem JSON's title and detail, or its error label."""
    try:
        body: Any = response.json()
    except ValueError:
        return response.text[:200] or response.reason
    if not isinstance(body, dict):
        return str(body)[:200]
    parts = [body.get("title"), body.get("detail") or body.get("error-code-label")]
    return ": ".join(str(part) for part in parts if part) or response.reason


def _reason(error: BaseException) -> str:
    return str(error) or type(error).__name__
