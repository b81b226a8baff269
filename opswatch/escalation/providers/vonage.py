"""Vonage calls (Voice API, NCCO: talk, then one DTMF digit) and SMS (SMS API).

The Vonage SDK is synchronous (requests), so each send runs in a worker
thread, bounded by the same timeout as Twilio's. Its own retries are turned
off: retrying is the delivery job's decision (and never after an unknown
outcome). ``OPSWATCH_VONAGE_API_URL`` ("https://host:port") points the SDK at
another host, such as the tests' fake.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

import requests
from vonage import Auth, HttpClientOptions, Vonage
from vonage_http_client.errors import HttpRequestError, RateLimitedError, ServerError
from vonage_sms import SmsMessage
from vonage_sms.errors import SmsError
from vonage_voice import CreateCallRequest, Input, Talk
from vonage_voice.models.input_types import Dtmf

from opswatch.escalation.providers.base import (
    SEND_TIMEOUT_SECONDS,
    CallLinks,
    OutcomeUnknown,
    ProviderUnavailable,
    Rejected,
    Sent,
)

DIGIT_WAIT_SECONDS = 8
Result = TypeVar("Result")


class VonageProvider:
    name = "vonage"

    def __init__(
        self,
        *,
        application_id: str,
        private_key: str,
        api_key: str,
        api_secret: str,
        from_number: str,
        api_host: str | None,
    ) -> None:
        host = urlsplit(api_host).netloc if api_host else None
        options = HttpClientOptions(
            timeout=max(1, int(SEND_TIMEOUT_SECONDS)),
            max_retries=0,
            # The SDK repeats a POST up to pool_maxsize times when the connection drops,
            # which could place a call twice; one connection means one attempt.
            pool_maxsize=1,
            **({"api_host": host, "rest_host": host} if host else {}),
        )
        self.client = Vonage(
            Auth(
                application_id=application_id,
                private_key=private_key,
                api_key=api_key,
                api_secret=api_secret,
            ),
            options,
        )
        self.from_number = from_number.lstrip("+")

    async def call(self, *, to: str, script: str, links: CallLinks) -> Sent:
        request = CreateCallRequest(
            to=[{"type": "phone", "number": to.lstrip("+")}],
            from_={"type": "phone", "number": self.from_number},
            ncco=[
                Talk(text=script, bargeIn=True),
                Input(
                    type=["dtmf"],
                    dtmf=Dtmf(maxDigits=1, timeOut=DIGIT_WAIT_SECONDS),
                    eventUrl=[links.gather_url],
                    eventMethod="POST",
                ),
            ],
            event_url=[links.status_url],
            event_method="POST",
        )
        response = await self._send(lambda: self.client.voice.create_call(request))
        return Sent(str(response.uuid))

    async def text(self, *, to: str, body: str, status_url: str) -> Sent:
        message = SmsMessage(
            to=to.lstrip("+"), from_=self.from_number, text=body, callback=status_url or None
        )
        response = await self._send(lambda: self.client.sms.send(message))
        return Sent(str(response.messages[0].message_id))

    async def _send(self, action: Callable[[], Result]) -> Result:
        try:
            async with asyncio.timeout(SEND_TIMEOUT_SECONDS + 1):
                return await asyncio.to_thread(action)
        except (RateLimitedError, ServerError) as error:
            raise ProviderUnavailable(f"Vonage answered: {error}") from None
        except HttpRequestError as error:
            # Only a 500 is a ServerError in the SDK; 502 to 504 are outages too.
            status = getattr(getattr(error, "response", None), "status_code", 0)
            if status >= 500:
                raise ProviderUnavailable(f"Vonage answered {status}: {error}") from None
            raise Rejected(f"Vonage refused it: {error}") from None
        except SmsError as error:
            raise Rejected(f"Vonage refused it: {error}") from None
        except requests.ConnectionError as error:
            if isinstance(error, requests.ConnectTimeout) or "refused" in str(error).lower():
                raise ProviderUnavailable(f"cannot connect to Vonage: {error}") from None
            raise OutcomeUnknown(f"no answer from Vonage ({error}); it may have gone out") from None
        except (TimeoutError, requests.Timeout) as error:
            raise OutcomeUnknown(
                f"no answer from Vonage ({type(error).__name__}); it may have gone out"
            ) from None
        finally:
            self._close()

    def _close(self) -> None:
        """The SDK has no close(); its requests session would keep the TLS connection
        (and a file descriptor) until garbage collection. One client sends once."""
        self.client.http_client._session.close()
