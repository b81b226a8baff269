"""The fakes, checked with the real SDKs (twilio's async client, vonage's sync client
in a worker thread) and, for what the SDKs cannot send, with plain HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client
from vonage import Auth, HttpClientOptions, Vonage
from vonage_http_client.errors import AuthenticationError, HttpRequestError, ServerError
from vonage_sms import SmsMessage
from vonage_sms.errors import SmsError
from vonage_voice import CreateCallRequest, Input, Talk
from vonage_voice.models.input_types import Dtmf

from tests.fakes.twilio import FakeTwilio
from tests.fakes.vonage import FakeVonage

TO = "+4915100000001"
FROM = "+15005550006"
TWIML = "<Response><Say>hi</Say></Response>"

# twilio 9.13's AsyncTwilioHttpClient builds an aiohttp.BasicAuth for every request,
# which aiohttp 3.14 deprecates; warnings are errors here, so Twilio tests allow it.
twilio_sdk = pytest.mark.filterwarnings(
    "ignore:BasicAuth is deprecated:DeprecationWarning:twilio.http.async_http_client"
)


# Twilio


@pytest.fixture
async def fake_twilio() -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio() as fake:
        yield fake


@dataclass
class TwilioSetup:
    client: Client
    sid: str
    token: str


@pytest.fixture
async def twilio(fake_twilio: FakeTwilio) -> AsyncIterator[TwilioSetup]:
    sid, token = fake_twilio.add_account()
    http = AsyncTwilioHttpClient()
    client = Client(sid, token, http_client=http)
    client.api.base_url = fake_twilio.url
    yield TwilioSetup(client, sid, token)
    await http.close()


async def place_call(client: Client) -> object:
    return await client.calls.create_async(
        to=TO, from_=FROM, twiml=TWIML, status_callback="http://x/cb"
    )


@twilio_sdk
async def test_twilio_call_is_created_and_recorded(
    fake_twilio: FakeTwilio, twilio: TwilioSetup
) -> None:
    call = await twilio.client.calls.create_async(
        to=TO,
        from_=FROM,
        twiml=TWIML,
        status_callback="http://x/cb",
        status_callback_event=["initiated", "ringing", "answered", "completed"],
        status_callback_method="POST",
    )

    assert call.sid is not None
    assert call.sid.startswith("CA")
    assert len(call.sid) == 34
    assert call.status == "queued"
    assert (call.to, call._from, call.account_sid) == (TO, FROM, twilio.sid)
    assert call.direction == "outbound-api"
    assert call.date_created is not None
    assert call.date_created.tzinfo is not None
    assert call.uri == f"/2010-04-01/Accounts/{twilio.sid}/Calls/{call.sid}.json"
    [recorded] = fake_twilio.calls
    assert recorded == {
        "To": TO,
        "From": FROM,
        "Twiml": TWIML,
        "StatusCallback": "http://x/cb",
        "StatusCallbackEvent": "initiated ringing answered completed",
        "StatusCallbackMethod": "POST",
        "account_sid": twilio.sid,
        "sid": call.sid,
    }
    assert fake_twilio.messages == []


@twilio_sdk
async def test_twilio_message_is_created_and_recorded(
    fake_twilio: FakeTwilio, twilio: TwilioSetup
) -> None:
    message = await twilio.client.messages.create_async(
        to=TO, from_=FROM, body="disk full on db-1", status_callback="http://x/sms"
    )

    assert message.sid is not None
    assert message.sid.startswith("SM")
    assert (message.status, message.body, message.num_segments) == (
        "queued",
        "disk full on db-1",
        "1",
    )
    assert (message.to, message.from_) == (TO, FROM)
    [recorded] = fake_twilio.messages
    assert recorded == {
        "To": TO,
        "From": FROM,
        "Body": "disk full on db-1",
        "StatusCallback": "http://x/sms",
        "account_sid": twilio.sid,
        "sid": message.sid,
    }
    assert fake_twilio.calls == []


@twilio_sdk
async def test_twilio_injected_failure_surfaces_as_rest_exception_once(
    fake_twilio: FakeTwilio, twilio: TwilioSetup
) -> None:
    fake_twilio.fail_next(500)

    with pytest.raises(TwilioRestException) as failure:
        await place_call(twilio.client)

    assert (failure.value.status, failure.value.code) == (500, 20500)
    assert "Internal Server Error" in failure.value.msg
    assert fake_twilio.calls == []
    await place_call(twilio.client)
    assert len(fake_twilio.calls) == 1


@twilio_sdk
async def test_twilio_failure_times_and_codes_apply_to_calls_and_messages(
    fake_twilio: FakeTwilio, twilio: TwilioSetup
) -> None:
    fake_twilio.fail_next(429, code=20429, message="Too Many Requests", times=2)

    with pytest.raises(TwilioRestException) as first:
        await place_call(twilio.client)
    with pytest.raises(TwilioRestException) as second:
        await twilio.client.messages.create_async(to=TO, from_=FROM, body="x")
    await twilio.client.messages.create_async(to=TO, from_=FROM, body="x")

    assert [(e.value.status, e.value.code) for e in (first, second)] == [(429, 20429)] * 2
    assert (fake_twilio.calls, len(fake_twilio.messages)) == ([], 1)


@twilio_sdk
async def test_twilio_bad_credentials_are_401(fake_twilio: FakeTwilio) -> None:
    sid, _ = fake_twilio.add_account()
    for username, password in [(sid, "0" * 32), ("AC" + "0" * 32, "0" * 32)]:
        http = AsyncTwilioHttpClient()
        client = Client(username, password, http_client=http)
        client.api.base_url = fake_twilio.url
        try:
            with pytest.raises(TwilioRestException) as failure:
                await place_call(client)
        finally:
            await http.close()
        assert (failure.value.status, failure.value.code) == (401, 20003)
    assert fake_twilio.calls == []


async def test_twilio_error_bodies_over_plain_http(fake_twilio: FakeTwilio) -> None:
    sid, token = fake_twilio.add_account()
    other, _ = fake_twilio.add_account()
    calls = f"{fake_twilio.url}/2010-04-01/Accounts/{sid}/Calls.json"
    async with httpx.AsyncClient() as http:
        anonymous = await http.post(calls, data={"To": TO, "From": FROM})
        stranger = await http.post(calls, data={"To": TO}, auth=("AC" + "0" * 32, ""))
        no_to = await http.post(calls, data={"From": FROM}, auth=(sid, token))
        elsewhere = await http.post(
            calls.replace(sid, other), data={"To": TO, "From": FROM}, auth=(sid, token)
        )

    assert anonymous.status_code == 401
    assert anonymous.json() == {
        "code": 20003,
        "message": "Authenticate",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 401,
    }
    assert (stranger.status_code, stranger.json()["code"]) == (401, 20003)
    assert (no_to.status_code, no_to.json()["code"]) == (400, 21604)
    assert (elsewhere.status_code, elsewhere.json()["code"]) == (404, 20404)
    assert fake_twilio.calls == []


@twilio_sdk
async def test_twilio_delay_lets_the_client_time_out(
    fake_twilio: FakeTwilio, twilio: TwilioSetup
) -> None:
    fake_twilio.delay_next(5)

    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await place_call(twilio.client)
    async with asyncio.timeout(2):
        await place_call(twilio.client)


# Vonage


@pytest.fixture
async def fake_vonage(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeVonage]:
    async with FakeVonage() as fake:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", fake.ca_path)
        yield fake


@dataclass
class VonageSetup:
    application_id: str
    private_key: str
    api_key: str
    api_secret: str


@pytest.fixture
def vonage_setup(fake_vonage: FakeVonage) -> VonageSetup:
    application_id, private_key, _ = fake_vonage.add_application()
    api_key, api_secret = fake_vonage.add_account()
    return VonageSetup(application_id, private_key, api_key, api_secret)


@pytest.fixture
def clients() -> Iterator[list[Vonage]]:
    """Closes the requests sessions of the clients a test made (their pooled TLS
    sockets would otherwise warn when collected)."""
    made: list[Vonage] = []
    yield made
    for client in made:
        client.http_client._session.close()


def vonage_client(
    fake: FakeVonage,
    setup: VonageSetup,
    made: list[Vonage],
    *,
    private_key: str | None = None,
    api_secret: str | None = None,
    timeout: int | None = None,
) -> Vonage:
    client = Vonage(
        Auth(
            application_id=setup.application_id,
            private_key=private_key or setup.private_key,
            api_key=setup.api_key,
            api_secret=api_secret or setup.api_secret,
        ),
        HttpClientOptions(api_host=fake.host, rest_host=fake.host, timeout=timeout),
    )
    made.append(client)
    return client


def call_request() -> CreateCallRequest:
    return CreateCallRequest(
        to=[{"type": "phone", "number": "4915100000001"}],
        from_={"type": "phone", "number": "4930000000"},
        ncco=[{"action": "talk", "text": "hi"}],
    )


async def test_vonage_call_is_created_and_recorded(
    fake_vonage: FakeVonage, vonage_setup: VonageSetup, clients: list[Vonage]
) -> None:
    client = vonage_client(fake_vonage, vonage_setup, clients)
    request = CreateCallRequest(
        to=[{"type": "phone", "number": "4915100000001"}],
        from_={"type": "phone", "number": "4930000000"},
        ncco=[
            Talk(text="hi", bargeIn=True),
            Input(type=["dtmf"], dtmf=Dtmf(maxDigits=1, timeOut=8), eventUrl=["http://x/g"]),
        ],
        event_url=["http://x/status"],
        event_method="POST",
    )

    response = await asyncio.to_thread(client.voice.create_call, request)

    assert (response.status, response.direction) == ("started", "outbound")
    assert response.conversation_uuid.startswith("CON-")
    [recorded] = fake_vonage.calls
    assert recorded["uuid"] == response.uuid
    assert recorded["application_id"] == vonage_setup.application_id
    assert recorded["to"] == [{"type": "phone", "number": "4915100000001"}]
    assert recorded["from"] == {"type": "phone", "number": "4930000000"}
    assert recorded["ncco"][0] == {"action": "talk", "text": "hi", "bargeIn": True}
    assert recorded["ncco"][1]["action"] == "input"
    assert recorded["ncco"][1]["dtmf"] == {"maxDigits": 1, "timeOut": 8}
    assert (recorded["event_url"], recorded["event_method"]) == (["http://x/status"], "POST")


async def test_vonage_sms_is_sent_and_recorded(
    fake_vonage: FakeVonage, vonage_setup: VonageSetup, clients: list[Vonage]
) -> None:
    client = vonage_client(fake_vonage, vonage_setup, clients)
    message = SmsMessage(to="4915100000001", from_="OpsWatch", text="hi", callback="http://x/dr")

    response = await asyncio.to_thread(client.sms.send, message)

    assert response.message_count == "1"
    [part] = response.messages
    assert part.message_id
    assert (part.status, part.to) == ("0", "4915100000001")
    assert fake_vonage.messages == [
        {
            "to": "4915100000001",
            "from": "OpsWatch",
            "text": "hi",
            "callback": "http://x/dr",
            "api_key": vonage_setup.api_key,
            "message-id": part.message_id,
        }
    ]


async def test_vonage_wrong_private_key_is_401(
    fake_vonage: FakeVonage, vonage_setup: VonageSetup, clients: list[Vonage]
) -> None:
    _, someone_elses_key, _ = fake_vonage.add_application()
    client = vonage_client(fake_vonage, vonage_setup, clients, private_key=someone_elses_key)

    with pytest.raises(AuthenticationError) as failure:
        await asyncio.to_thread(client.voice.create_call, call_request())

    assert failure.value.response.status_code == 401
    assert failure.value.response.json()["title"] == "Unauthorized"
    assert fake_vonage.calls == []


async def test_vonage_sms_bad_credentials(
    fake_vonage: FakeVonage, vonage_setup: VonageSetup, clients: list[Vonage]
) -> None:
    client = vonage_client(fake_vonage, vonage_setup, clients, api_secret="x" * 16)

    with pytest.raises(SmsError, match="error code 4: Bad Credentials"):
        await asyncio.to_thread(client.sms.send, SmsMessage(to="49151", from_="O", text="hi"))

    assert fake_vonage.messages == []


async def test_vonage_injected_failures(
    fake_vonage: FakeVonage, vonage_setup: VonageSetup, clients: list[Vonage]
) -> None:
    client = vonage_client(fake_vonage, vonage_setup, clients)
    fake_vonage.fail_next(500)
    fake_vonage.fail_next(503)

    with pytest.raises(ServerError):
        await asyncio.to_thread(client.voice.create_call, call_request())
    # The SDK maps only 500 to ServerError: any other 5xx is a plain HttpRequestError.
    with pytest.raises(HttpRequestError) as other:
        await asyncio.to_thread(client.sms.send, SmsMessage(to="49151", from_="O", text="hi"))

    assert type(other.value) is HttpRequestError
    assert other.value.response.status_code == 503
    assert (fake_vonage.calls, fake_vonage.messages) == ([], [])
    await asyncio.to_thread(client.voice.create_call, call_request())
    assert len(fake_vonage.calls) == 1


async def test_vonage_delay_lets_the_client_time_out(
    fake_vonage: FakeVonage, vonage_setup: VonageSetup, clients: list[Vonage]
) -> None:
    client = vonage_client(fake_vonage, vonage_setup, clients, timeout=1)
    fake_vonage.delay_next(5)

    with pytest.raises(requests.ReadTimeout):
        await asyncio.to_thread(client.voice.create_call, call_request())


async def test_vonage_is_untrusted_without_its_certificate(
    fake_vonage: FakeVonage,
    vonage_setup: VonageSetup,
    clients: list[Vonage],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    client = vonage_client(fake_vonage, vonage_setup, clients)

    with pytest.raises(requests.exceptions.SSLError):
        await asyncio.to_thread(client.voice.create_call, call_request())
