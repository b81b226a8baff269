"""The fake Slack, checked with the real ``slack_sdk`` clients (``AsyncWebClient`` and,
for ``response_url``, ``AsyncWebhookClient``) and, for what they cannot send, plain
HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from tests.fakes.slack import MAX_HEADER_TEXT, MAX_MESSAGE_BLOCKS, FakeSlack, MessageVersion

TEAM = "T0000001"
TOKEN = "xoxb-1-fake-token"
BOT = "UBOT0001"
ADA = "U0000ADA"
CHANNEL = "C0ALERTS"

# slack_sdk 3.48 hands oauth.v2.access's client credentials to aiohttp.BasicAuth, which
# aiohttp 3.14 deprecates; warnings are errors here, so the OAuth tests allow it.
slack_sdk_basic_auth = pytest.mark.filterwarnings(
    "ignore:BasicAuth is deprecated:DeprecationWarning:slack_sdk.web.async_base_client"
)


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        fake.add_workspace(TEAM, TOKEN, BOT, name="Acme Ops")
        fake.add_user(
            TEAM, ADA, email="Ada@example.com", real_name="Ada Lovelace", tz="Europe/London"
        )
        yield fake


@pytest.fixture
def slack(fake_slack: FakeSlack) -> AsyncWebClient:
    return client_for(fake_slack)


def client_for(fake: FakeSlack, token: str | None = TOKEN, **options: Any) -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=fake.url + "/api/", **options)


def section(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text}}


def button(action_id: str, label: str = "Ack", value: str = "1") -> dict[str, Any]:
    text = {"type": "plain_text", "text": label}
    return {"type": "button", "action_id": action_id, "text": text, "value": value}


def modal(title: str = "Acknowledge", **extra: Any) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": title},
        "blocks": [section("Really?")],
        **extra,
    }


async def slack_error(call: Any) -> SlackApiError:
    """The SlackApiError the awaitable ``call`` raises."""
    with pytest.raises(SlackApiError) as failure:
        await call
    return failure.value


# Auth


async def test_auth_test_names_the_workspace_and_bot(
    fake_slack: FakeSlack, slack: AsyncWebClient
) -> None:
    answer = await slack.auth_test()

    assert answer.status_code == 200
    assert (answer["ok"], answer["team_id"], answer["user_id"]) == (True, TEAM, BOT)
    assert answer["bot_id"] == fake_slack.workspaces[TEAM].bot_id
    assert answer["url"] == "https://acme-ops.slack.com/"
    assert fake_slack.calls == [("auth.test", {})]


async def test_unknown_or_missing_token_is_refused(fake_slack: FakeSlack) -> None:
    wrong = await slack_error(
        client_for(fake_slack, "xoxb-wrong").chat_postMessage(channel=CHANNEL, text="hi")
    )
    missing = await slack_error(client_for(fake_slack, None).auth_test())

    assert (wrong.response.status_code, wrong.response["error"]) == (200, "invalid_auth")
    assert missing.response["error"] == "not_authed"
    assert fake_slack.messages == []
    assert [method for method, _ in fake_slack.calls] == ["chat.postMessage", "auth.test"]


async def test_unknown_method(slack: AsyncWebClient) -> None:
    failure = await slack_error(slack.api_call("alerts.page", json={"x": 1}))

    assert failure.response["error"] == "unknown_method"


# Messages


async def test_post_update_and_thread_reply(fake_slack: FakeSlack, slack: AsyncWebClient) -> None:
    first_blocks = [header("DB down"), {"type": "actions", "elements": [button("ack")]}]
    posted = await slack.chat_postMessage(
        channel=CHANNEL,
        text="DB down",
        blocks=first_blocks,
        username="OpsWatch",
        icon_emoji=":rotating_light:",
        unfurl_links=False,
        metadata={"event_type": "alert", "event_payload": {"id": "a1"}},
    )
    ts = posted["ts"]
    updated = await slack.chat_update(
        channel=CHANNEL, ts=ts, text="DB down (acked)", blocks=[header("Acked")]
    )
    text_only = await slack.chat_update(channel=CHANNEL, ts=ts, text="DB down (resolved)")
    reply = await slack.chat_postMessage(channel=CHANNEL, text="Ada acked", thread_ts=ts)
    second = await slack.chat_postMessage(channel=CHANNEL, text="Disk full")

    assert isinstance(ts, str)
    assert ts == "1700000000.000100"
    assert float(ts) < float(reply["ts"]) < float(second["ts"])
    assert posted["channel"] == CHANNEL
    assert posted["message"]["blocks"] == first_blocks
    assert (posted["message"]["user"], posted["message"]["bot_id"]) == (
        BOT,
        fake_slack.workspaces[TEAM].bot_id,
    )
    assert updated["message"]["text"] == "DB down (acked)"
    # Blocks not given to chat.update are kept, as Slack does.
    assert text_only["message"]["blocks"] == [header("Acked")]
    assert reply["message"]["thread_ts"] == ts

    message = fake_slack.message(CHANNEL, ts)
    assert message.versions == [
        MessageVersion("DB down", first_blocks),
        MessageVersion("DB down (acked)", [header("Acked")]),
        MessageVersion("DB down (resolved)", [header("Acked")]),
    ]
    assert (message.text, message.thread_ts) == ("DB down (resolved)", None)
    assert message.args["username"] == "OpsWatch"
    assert message.args["icon_emoji"] == ":rotating_light:"
    assert message.args["unfurl_links"] is False
    assert message.args["metadata"]["event_type"] == "alert"
    assert [m.ts for m in fake_slack.messages_in(CHANNEL)] == [ts, second["ts"]]
    [thread_reply] = fake_slack.replies_to(CHANNEL, ts)
    assert (thread_reply.ts, thread_reply.text) == (reply["ts"], "Ada acked")
    assert fake_slack.calls_to("chat.postMessage")[0]["blocks"] == first_blocks


async def test_reply_to_a_reply_joins_the_thread(
    fake_slack: FakeSlack, slack: AsyncWebClient
) -> None:
    root = await slack.chat_postMessage(channel=CHANNEL, text="root")
    first = await slack.chat_postMessage(channel=CHANNEL, text="1", thread_ts=root["ts"])
    await slack.chat_postMessage(
        channel=CHANNEL, text="2", thread_ts=first["ts"], reply_broadcast=True
    )

    replies = fake_slack.replies_to(CHANNEL, root["ts"])
    assert [(m.text, m.reply_broadcast) for m in replies] == [("1", False), ("2", True)]
    assert [m.text for m in fake_slack.messages_in(CHANNEL)] == ["root"]


async def test_unknown_thread_message_and_channel(
    fake_slack: FakeSlack, slack: AsyncWebClient
) -> None:
    posted = await slack.chat_postMessage(channel=CHANNEL, text="hi")
    fake_slack.missing_channels.add("C0GONE")

    no_thread = await slack_error(
        slack.chat_postMessage(channel=CHANNEL, text="x", thread_ts="1600000000.000100")
    )
    elsewhere = await slack_error(
        slack.chat_postMessage(channel="C0OTHER", text="x", thread_ts=posted["ts"])
    )
    no_message = await slack_error(slack.chat_update(channel=CHANNEL, ts="1.000001", text="x"))
    gone = await slack_error(slack.chat_postMessage(channel="C0GONE", text="x"))

    assert no_thread.response["error"] == "thread_not_found"
    assert elsewhere.response["error"] == "thread_not_found"
    assert no_message.response["error"] == "message_not_found"
    assert gone.response["error"] == "channel_not_found"
    assert len(fake_slack.messages) == 1


async def test_no_text_and_too_long_text(fake_slack: FakeSlack, slack: AsyncWebClient) -> None:
    # api_call directly: chat_postMessage warns (an error here) when text is missing.
    no_text = await slack_error(slack.api_call("chat.postMessage", json={"channel": CHANNEL}))
    too_long = await slack_error(slack.chat_postMessage(channel=CHANNEL, text="x" * 40_001))
    await slack.chat_postMessage(channel=CHANNEL, text="x" * 40_000)

    assert no_text.response["error"] == "no_text"
    assert too_long.response["error"] == "msg_too_long"
    assert len(fake_slack.messages) == 1


async def test_form_encoded_blocks_are_parsed(fake_slack: FakeSlack, slack: AsyncWebClient) -> None:
    blocks = [section("*hello*")]

    answer = await slack.api_call(
        "chat.postMessage",
        data={"channel": CHANNEL, "text": "hello", "blocks": json.dumps(blocks)},
    )

    assert answer["message"]["blocks"] == blocks
    assert fake_slack.calls_to("chat.postMessage") == [
        {"channel": CHANNEL, "text": "hello", "blocks": blocks}
    ]
    assert fake_slack.messages_in(CHANNEL)[0].blocks == blocks


async def test_ephemeral_is_recorded(fake_slack: FakeSlack, slack: AsyncWebClient) -> None:
    answer = await slack.chat_postEphemeral(
        channel=CHANNEL, user=ADA, text="only you", blocks=[section("only you")]
    )
    stranger = await slack_error(
        slack.chat_postEphemeral(channel=CHANNEL, user="U0NOBODY", text="x")
    )

    [ephemeral] = fake_slack.ephemerals
    assert answer["message_ts"] == ephemeral.message_ts
    assert (ephemeral.channel, ephemeral.user, ephemeral.text) == (CHANNEL, ADA, "only you")
    assert ephemeral.blocks == [section("only you")]
    assert stranger.response["error"] == "user_not_in_channel"
    assert fake_slack.messages == []


# Block Kit limits


async def test_over_long_header_is_invalid_blocks(
    fake_slack: FakeSlack, slack: AsyncWebClient
) -> None:
    failure = await slack_error(
        slack.chat_postMessage(
            channel=CHANNEL, text="x", blocks=[header("h" * (MAX_HEADER_TEXT + 1))]
        )
    )
    await slack.chat_postMessage(channel=CHANNEL, text="x", blocks=[header("h" * MAX_HEADER_TEXT)])

    assert failure.response["error"] == "invalid_blocks"
    assert failure.response["errors"] == [
        "header text must be at most 150 characters (got 151) [json-pointer:/blocks/0/text/text]"
    ]
    assert len(fake_slack.messages) == 1


async def test_too_many_blocks_is_invalid_blocks(
    fake_slack: FakeSlack, slack: AsyncWebClient
) -> None:
    blocks = [section(f"line {n}") for n in range(MAX_MESSAGE_BLOCKS + 1)]

    failure = await slack_error(slack.chat_postMessage(channel=CHANNEL, text="x", blocks=blocks))
    posted = await slack.chat_postMessage(channel=CHANNEL, text="x", blocks=blocks[:-1])
    on_update = await slack_error(
        slack.chat_update(channel=CHANNEL, ts=posted["ts"], text="x", blocks=blocks)
    )

    assert failure.response["error"] == "invalid_blocks"
    assert failure.response["errors"] == [
        "a message can have at most 50 blocks (got 51) [json-pointer:/blocks]"
    ]
    assert on_update.response["error"] == "invalid_blocks"
    assert len(fake_slack.message(CHANNEL, posted["ts"]).versions) == 1


async def test_each_limit_is_named(slack: AsyncWebClient) -> None:
    blocks = [
        section("s" * 3001, block_id="dup"),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11, "block_id": "dup"},
        {
            "type": "actions",
            "elements": [
                button("ack", label="l" * 76, value="v" * 2001),
                button("ack"),
                {**button("a" * 256), "url": "https://x/" + "u" * 3000},
            ],
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11},
    ]

    failure = await slack_error(slack.chat_postMessage(channel=CHANNEL, text="x", blocks=blocks))

    errors = "\n".join(failure.response["errors"])
    for expected in [
        "section text must be at most 3000 characters (got 3001)"
        " [json-pointer:/blocks/0/text/text]",
        "block_id 'dup' is used more than once [json-pointer:/blocks/1/block_id]",
        "a section can have at most 10 fields (got 11) [json-pointer:/blocks/1/fields]",
        "button text must be at most 75 characters (got 76)",
        "button value must be at most 2000 characters (got 2001)",
        "action_id 'ack' is used more than once [json-pointer:/blocks/2/elements/1/action_id]",
        "action_id must be at most 255 characters (got 256)",
        "button url must be at most 3000 characters (got 3010)",
        "context blocks can have at most 10 elements (got 11) [json-pointer:/blocks/3/elements]",
    ]:
        assert expected in errors


# Users and DMs


async def test_users_lookup_by_email_and_info(slack: AsyncWebClient) -> None:
    found = await slack.users_lookupByEmail(email="ada@EXAMPLE.com")
    missing = await slack_error(slack.users_lookupByEmail(email="nobody@example.com"))
    info = await slack.users_info(user=ADA)
    unknown = await slack_error(slack.users_info(user="U0NOBODY"))

    user = found["user"]
    assert (user["id"], user["team_id"], user["real_name"], user["tz"]) == (
        ADA,
        TEAM,
        "Ada Lovelace",
        "Europe/London",
    )
    assert user["profile"]["email"] == "Ada@example.com"
    assert user["profile"]["real_name"] == "Ada Lovelace"
    assert user["profile"]["display_name"] == ""
    assert user["is_bot"] is False
    assert info["user"] == user
    assert missing.response["error"] == "users_not_found"
    assert unknown.response["error"] == "user_not_found"


async def test_dm_channel_is_opened_once_and_postable(
    fake_slack: FakeSlack, slack: AsyncWebClient
) -> None:
    unopened = await slack_error(slack.chat_postMessage(channel="D0NEVER", text="x"))
    opened = await slack.conversations_open(users=ADA)
    again = await slack.conversations_open(users=[ADA])
    nobody = await slack_error(slack.conversations_open(users="U0NOBODY"))
    dm = opened["channel"]["id"]
    await slack.chat_postMessage(channel=dm, text="You are on call")

    assert unopened.response["error"] == "channel_not_found"
    assert dm.startswith("D")
    assert again["channel"]["id"] == dm
    assert again["already_open"] is True
    assert nobody.response["error"] == "user_not_found"
    assert fake_slack.dm_channel_of(ADA) == dm
    assert fake_slack.dm_channel_of("U0NOBODY") is None
    assert [m.text for m in fake_slack.messages_in(dm)] == ["You are on call"]
    # The SDK sends conversations.open as a POST with a query string.
    assert fake_slack.calls_to("conversations.open")[0] == {"users": ADA}


async def test_dm_channels_belong_to_their_workspace(fake_slack: FakeSlack) -> None:
    fake_slack.add_workspace("T0000002", "xoxb-2")
    dm = (await client_for(fake_slack).conversations_open(users=ADA))["channel"]["id"]

    other = await slack_error(
        client_for(fake_slack, "xoxb-2").chat_postMessage(channel=dm, text="x")
    )

    assert other.response["error"] == "channel_not_found"


# Views


async def test_views_open_with_valid_unknown_and_reused_trigger(
    fake_slack: FakeSlack, slack: AsyncWebClient
) -> None:
    trigger_id = fake_slack.new_trigger_id()

    opened = await slack.views_open(trigger_id=trigger_id, view=modal(callback_id="ack"))
    reused = await slack_error(slack.views_open(trigger_id=trigger_id, view=modal()))
    unknown = await slack_error(slack.views_open(trigger_id="1.2.nope", view=modal()))

    view = opened["view"]
    assert view["id"].startswith("V")
    assert (view["type"], view["callback_id"], view["team_id"]) == ("modal", "ack", TEAM)
    assert view["title"] == {"type": "plain_text", "text": "Acknowledge"}
    assert view["hash"]
    assert reused.response["error"] == "expired_trigger_id"
    assert unknown.response["error"] == "invalid_trigger_id"
    [recorded] = fake_slack.views
    assert (recorded.id, recorded.opened_by, recorded.trigger_id) == (
        view["id"],
        "views.open",
        trigger_id,
    )
    assert recorded.view == modal(callback_id="ack")


async def test_views_update_and_push(fake_slack: FakeSlack, slack: AsyncWebClient) -> None:
    opened = await slack.views_open(
        trigger_id=fake_slack.new_trigger_id(), view=modal(external_id="alert-1")
    )
    view_id, first_hash = opened["view"]["id"], opened["view"]["hash"]

    updated = await slack.views_update(view_id=view_id, hash=first_hash, view=modal("Done"))
    stale = await slack_error(slack.views_update(view_id=view_id, hash=first_hash, view=modal()))
    by_external = await slack.views_update(external_id="alert-1", view=modal("Again"))
    missing = await slack_error(slack.views_update(view_id="V0NOPE", view=modal()))
    pushed = await slack.views_push(trigger_id=fake_slack.new_trigger_id(), view=modal("Next"))

    assert updated["view"]["id"] == view_id
    assert updated["view"]["hash"] != first_hash
    assert stale.response["error"] == "hash_conflict"
    assert by_external["view"]["title"]["text"] == "Again"
    assert missing.response["error"] == "not_found"
    assert [v["title"]["text"] for v in fake_slack.views[0].versions] == [
        "Acknowledge",
        "Done",
        "Again",
    ]
    assert fake_slack.views[1].opened_by == "views.push"
    assert pushed["view"]["id"] == fake_slack.views[1].id


async def test_view_limits(fake_slack: FakeSlack, slack: AsyncWebClient) -> None:
    trigger_id = fake_slack.new_trigger_id()
    view = modal(
        "t" * 25,
        submit={"type": "plain_text", "text": "s" * 25},
        blocks=[
            {
                "type": "input",
                "label": {"type": "plain_text", "text": "Note"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": "note",
                    "max_length": 10,
                    "initial_value": "x" * 11,
                },
            }
        ]
        + [section("x")] * 100,
    )

    failure = await slack_error(slack.views_open(trigger_id=trigger_id, view=view))

    assert failure.response["error"] == "invalid_blocks"
    assert failure.response["errors"] == [
        "view title must be at most 24 characters (got 25) [json-pointer:/view/title/text]",
        "view submit must be at most 24 characters (got 25) [json-pointer:/view/submit/text]",
        "a view can have at most 100 blocks (got 101) [json-pointer:/view/blocks]",
        "initial_value must be at most max_length=10 characters (got 11)"
        " [json-pointer:/view/blocks/0/element/initial_value]",
    ]
    # A refused view leaves its trigger unused.
    assert trigger_id in fake_slack.valid_trigger_ids
    assert fake_slack.views == []


# OAuth


@slack_sdk_basic_auth
async def test_oauth_v2_access_installs_the_workspace(fake_slack: FakeSlack) -> None:
    fake_slack.set_oauth_app("111.222", "s3cret")
    fake_slack.add_oauth_code(
        "code-1",
        team_id="T0000009",
        team_name="Initech",
        bot_token="xoxb-9-new",
        bot_user_id="UBOT0009",
        redirect_uri="https://opswatch.test/slack/oauth",
    )
    anonymous = client_for(fake_slack, None)

    answer = await anonymous.oauth_v2_access(
        client_id="111.222",
        client_secret="s3cret",
        code="code-1",
        redirect_uri="https://opswatch.test/slack/oauth",
    )
    reused = await slack_error(
        anonymous.oauth_v2_access(client_id="111.222", client_secret="s3cret", code="code-1")
    )
    auth = await client_for(fake_slack, "xoxb-9-new").auth_test()

    assert answer.data == {
        "ok": True,
        "access_token": "xoxb-9-new",
        "token_type": "bot",
        "scope": "chat:write,commands,im:write,users:read,users:read.email",
        "bot_user_id": "UBOT0009",
        "app_id": fake_slack.app_id,
        "team": {"id": "T0000009", "name": "Initech"},
        "enterprise": None,
        "authed_user": {"id": "UINSTALLER"},
        "is_enterprise_install": False,
    }
    assert reused.response["error"] == "invalid_code"
    assert (auth["team_id"], auth["user_id"], auth["team"]) == ("T0000009", "UBOT0009", "Initech")
    # The SDK sends the code as a form and the client credentials as basic auth.
    assert fake_slack.calls_to("oauth.v2.access")[0] == {
        "code": "code-1",
        "redirect_uri": "https://opswatch.test/slack/oauth",
    }


@slack_sdk_basic_auth
async def test_oauth_v2_access_refusals(fake_slack: FakeSlack) -> None:
    fake_slack.set_oauth_app("111.222", "s3cret")
    fake_slack.add_oauth_code(
        "code-1",
        team_id="T0000009",
        team_name="Initech",
        bot_token="xoxb-9",
        redirect_uri="https://opswatch.test/cb",
    )
    anonymous = client_for(fake_slack, None)

    async def exchange(client_id: str, secret: str, code: str, redirect_uri: str) -> str:
        failure = await slack_error(
            anonymous.oauth_v2_access(
                client_id=client_id, client_secret=secret, code=code, redirect_uri=redirect_uri
            )
        )
        error: str = failure.response["error"]
        return error

    good = "https://opswatch.test/cb"
    assert await exchange("111.222", "s3cret", "code-0", good) == "invalid_code"
    assert await exchange("999.999", "s3cret", "code-1", good) == "invalid_client_id"
    assert await exchange("111.222", "wrong", "code-1", good) == "bad_client_secret"
    assert await exchange("111.222", "s3cret", "code-1", "https://evil/cb") == "bad_redirect_uri"
    assert "T0000009" not in fake_slack.workspaces


async def test_oauth_v2_access_with_credentials_in_the_form(fake_slack: FakeSlack) -> None:
    fake_slack.set_oauth_app("111.222", "s3cret")
    fake_slack.add_oauth_code("code-1", team_id="T0000009", team_name="Initech", bot_token="xoxb-9")

    async with httpx.AsyncClient() as http:
        answer = await http.post(
            f"{fake_slack.url}/api/oauth.v2.access",
            data={"client_id": "111.222", "client_secret": "s3cret", "code": "code-1"},
        )

    assert answer.status_code == 200
    assert answer.json()["access_token"] == "xoxb-9"


# Failure injection


async def test_rate_limit_is_retried_by_the_sdks_handler(fake_slack: FakeSlack) -> None:
    client = client_for(
        fake_slack, retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)]
    )
    # Retry-After 0: the handler then sleeps 0 s plus up to 1 s of jitter.
    fake_slack.rate_limit_next(retry_after=0)

    answer = await client.chat_postMessage(channel=CHANNEL, text="after the limit")

    assert answer["ok"] is True
    assert [method for method, _ in fake_slack.calls] == ["chat.postMessage"] * 2
    assert [m.text for m in fake_slack.messages] == ["after the limit"]


async def test_rate_limit_without_retry_handler_is_an_error(
    fake_slack: FakeSlack, slack: AsyncWebClient
) -> None:
    fake_slack.rate_limit_next(retry_after=7)

    failure = await slack_error(slack.chat_postMessage(channel=CHANNEL, text="x"))

    assert failure.response.status_code == 429
    assert failure.response.headers["Retry-After"] == "7"
    assert failure.response.data == {"ok": False, "error": "ratelimited"}
    assert fake_slack.messages == []
    await slack.chat_postMessage(channel=CHANNEL, text="x")
    assert len(fake_slack.messages) == 1


async def test_injected_errors_come_in_the_order_queued(
    fake_slack: FakeSlack, slack: AsyncWebClient
) -> None:
    fake_slack.fail_next("channel_is_archived")
    fake_slack.server_error_next(503)
    fake_slack.rate_limit_next(retry_after=3)

    archived = await slack_error(slack.chat_postMessage(channel=CHANNEL, text="x"))
    unavailable = await slack_error(slack.users_info(user=ADA))
    limited = await slack_error(slack.auth_test())
    await slack.auth_test()

    assert (archived.response.status_code, archived.response["error"]) == (
        200,
        "channel_is_archived",
    )
    assert unavailable.response.status_code == 503
    assert limited.response.status_code == 429
    assert fake_slack.messages == []
    assert len(fake_slack.calls) == 4


async def test_delay_lets_the_client_time_out(fake_slack: FakeSlack, slack: AsyncWebClient) -> None:
    fake_slack.delay_next(5)

    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await slack.auth_test()
    async with asyncio.timeout(2):
        await slack.auth_test()


# response_url


async def test_response_url_round_trip(fake_slack: FakeSlack) -> None:
    url = fake_slack.new_response_url()
    other = fake_slack.new_response_url()
    body = {"text": "Acked by Ada", "replace_original": True, "blocks": [section("Acked")]}

    answer = await AsyncWebhookClient(url).send_dict(body)
    sent = await AsyncWebhookClient(url).send(text="thanks", response_type="ephemeral")

    assert url.startswith(f"{fake_slack.url}/response/")
    assert (answer.status_code, answer.body) == (200, "ok")
    assert sent.status_code == 200
    assert fake_slack.responses[url] == [body, {"text": "thanks", "response_type": "ephemeral"}]
    assert fake_slack.responses[other] == []


async def test_response_url_refusals(fake_slack: FakeSlack) -> None:
    url = fake_slack.new_response_url()

    unknown = await AsyncWebhookClient(f"{fake_slack.url}/response/nope").send(text="x")
    bad_blocks = await AsyncWebhookClient(url).send_dict(
        {"text": "x", "blocks": [header("h" * 151)]}
    )
    async with httpx.AsyncClient() as http:
        not_json = await http.post(url, content=b"text=hi")

    assert (unknown.status_code, unknown.body) == (404, "no_service")
    assert (bad_blocks.status_code, bad_blocks.body) == (400, "invalid_blocks")
    assert (not_json.status_code, not_json.text) == (400, "invalid_payload")
    assert fake_slack.responses[url] == []
