"""Twilio calls and SMS through the official SDK (async client).

The call's TwiML is sent inline: a ``<Gather numDigits=1>`` around the spoken
alert, then a redirect for when nothing was pressed. ``OPSWATCH_TWILIO_API_URL``
points the SDK elsewhere (the tests' fake Twilio).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import aiohttp
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client
from twilio.twiml.voice_response import Gather, VoiceResponse

from opswatch.escalation.providers.base import (
    SEND_TIMEOUT_SECONDS,
    CallLinks,
    OutcomeUnknown,
    ProviderUnavailable,
    Rejected,
    Sent,
)

GATHER_SECONDS = 8


def call_twiml(script: str, links: CallLinks) -> str:
    response = VoiceResponse()
    gather = Gather(num_digits=1, action=links.gather_url, method="POST", timeout=GATHER_SECONDS)
    gather.say(script)
    response.append(gather)
    response.redirect(links.no_input_url, method="POST")
    return str(response)


class TwilioProvider:
    name = "twilio"

    def __init__(
        self, *, account_sid: str, auth_token: str, from_number: str, api_url: str | None
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.from_number = from_number
        self.api_url = api_url

    async def call(self, *, to: str, script: str, links: CallLinks) -> Sent:
        async def place(client: Client) -> Sent:
            call = await client.calls.create_async(
                to=to,
                from_=self.from_number,
                twiml=call_twiml(script, links),
                status_callback=links.status_url,
                status_callback_event=["initiated", "ringing", "answered", "completed"],
                status_callback_method="POST",
            )
            return Sent(call.sid)

        return await self._send(place)

    async def text(self, *, to: str, body: str, status_url: str) -> Sent:
        async def send(client: Client) -> Sent:
            message = await client.messages.create_async(
                to=to, from_=self.from_number, body=body, status_callback=status_url
            )
            return Sent(message.sid)

        return await self._send(send)

    async def _send(self, action: Callable[[Client], Awaitable[Sent]]) -> Sent:
        http = AsyncTwilioHttpClient(pool_connections=True)
        client = Client(self.account_sid, self.auth_token, http_client=http)
        if self.api_url:
            client.api.base_url = self.api_url
        try:
            async with asyncio.timeout(SEND_TIMEOUT_SECONDS):
                return await action(client)
        except TwilioRestException as error:
            if error.status == 429 or error.status >= 500:
                raise ProviderUnavailable(f"Twilio answered {error.status}: {error.msg}") from None
            raise Rejected(f"Twilio refused it ({error.code}): {error.msg}") from None
        except aiohttp.ClientConnectorError as error:
            raise ProviderUnavailable(f"cannot connect to Twilio: {error}") from None
        except (TimeoutError, aiohttp.ClientError) as error:
            raise OutcomeUnknown(
                f"no answer from Twilio ({type(error).__name__}); it may have gone out"
            ) from None
        finally:
            await http.close()
