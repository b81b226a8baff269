"""The Events API (spec 1.1): the URL check and signatures, ``app_mention`` answering
in the thread it was asked in, and a DM logged once as a knowledge draft whose Edit
button opens a modal that turns it into a full entry."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from opswatch.audit.actor import Actor
from opswatch.models import Incident, IncidentSource, IncidentStatus, Severity, SlackEventReceipt
from opswatch.rosters.rosters import RosterSpec, create_roster
from tests.slack.support import (
    ADMIN_SLACK,
    ALERT_CHANNEL,
    BOT_TOKEN,
    BOT_USER,
    TEAM,
    SlackKit,
    signed_headers,
)

EVENTS = "/api/v1/slack/events"
DM_TEXT = "etcd leader election flapping\nrestarted etcd-2"
RULE = "alertname=EtcdLeaderChanges, namespace=kube-system"


def _bot(slack: SlackKit) -> AsyncWebClient:
    """The real SDK client acting as the app's bot, pointed at the fake."""
    return AsyncWebClient(token=BOT_TOKEN, base_url=f"{slack.fake.url}/api/")


async def _dm_channel(slack: SlackKit, user: str = ADMIN_SLACK) -> str:
    opened = await _bot(slack).conversations_open(users=user)
    return str(opened["channel"]["id"])


def _dm(channel: str, text: str = DM_TEXT, **extra: Any) -> dict[str, Any]:
    return {
        "type": "message",
        "channel_type": "im",
        "channel": channel,
        "user": ADMIN_SLACK,
        "text": text,
        "ts": f"{time.time():.6f}",
        "event_ts": f"{time.time():.6f}",
        **extra,
    }


async def _log_draft(slack: SlackKit) -> tuple[Incident, str]:
    """A DM from the admin, logged; the draft and the DM channel."""
    channel = await _dm_channel(slack)
    response = await slack.event(_dm(channel), event_id="Ev0DM0001")
    assert response.status_code == 200, response.text
    await slack.drain()
    return await Incident.get(tenant=slack.tenant), channel


# The URL check and signatures


async def test_url_verification_answers_the_challenge(slack: SlackKit) -> None:
    response = await slack.post_json(EVENTS, {"type": "url_verification", "challenge": "abc"})
    assert response.status_code == 200
    assert response.json() == {"challenge": "abc"}


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(lambda body: {}, id="unsigned"),
        pytest.param(
            lambda body: signed_headers(body, secret="not-the-signing-secret"), id="wrong"
        ),
        pytest.param(lambda body: signed_headers(body, timestamp=int(time.time()) - 360), id="old"),
    ],
)
async def test_a_request_not_signed_by_slack_is_refused(slack: SlackKit, headers: Any) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "abc"}).encode()
    response = await slack.http.post(
        EVENTS, content=body, headers={"Content-Type": "application/json", **headers(body)}
    )
    assert response.status_code == 401
    assert response.json()["error"]["field"] == "X-Slack-Signature"
    assert "abc" not in response.text


async def test_a_forged_event_changes_nothing(slack: SlackKit) -> None:
    channel = await _dm_channel(slack)
    body = json.dumps(
        {"type": "event_callback", "team_id": TEAM, "event_id": "Ev0FORGED", "event": _dm(channel)}
    ).encode()
    forged = signed_headers(body, secret="not-the-signing-secret")
    response = await slack.http.post(
        EVENTS, content=body, headers={"Content-Type": "application/json", **forged}
    )
    assert response.status_code == 401
    await slack.drain()
    assert await Incident.filter(tenant=slack.tenant).count() == 0
    assert await SlackEventReceipt.filter(tenant=slack.tenant).count() == 0


# app_mention


async def test_a_mention_is_answered_in_its_thread(slack: SlackKit) -> None:
    await create_roster(
        tenant=slack.tenant,
        actor=Actor.system("test"),
        spec=RosterSpec(name="Payments", timezone="Europe/Berlin", rotation_length_days=7),
        member_ids=[str(slack.admin.id)],
    )
    # The message that mentions the app must exist for a reply in its thread.
    asked = await _bot(slack).chat_postMessage(channel=ALERT_CHANNEL, text="<@UOPSBOT> oncall")
    ts = str(asked["ts"])

    mention = {
        "type": "app_mention",
        "user": ADMIN_SLACK,
        "text": f"<@{BOT_USER}> oncall",
        "ts": ts,
        "channel": ALERT_CHANNEL,
        "event_ts": ts,
    }
    response = await slack.event(mention, event_id="Ev0MENTION")
    assert response.status_code == 200
    await slack.drain()

    [reply] = slack.fake.replies_to(ALERT_CHANNEL, ts)
    assert reply.args["thread_ts"] == ts
    assert "Payments" in (reply.text or "")
    assert f"<@{ADMIN_SLACK}>" in (reply.text or "")
    assert len(slack.fake.messages_in(ALERT_CHANNEL)) == 1  # only the question, no new message


async def test_a_mention_by_our_own_bot_is_not_answered(slack: SlackKit) -> None:
    asked = await _bot(slack).chat_postMessage(channel=ALERT_CHANNEL, text="<@UOPSBOT> oncall")
    ts = str(asked["ts"])
    mention = {
        "type": "app_mention",
        "user": BOT_USER,
        "text": f"<@{BOT_USER}> oncall",
        "ts": ts,
        "channel": ALERT_CHANNEL,
    }
    response = await slack.event(mention, event_id="Ev0SELF")
    assert response.status_code == 200
    await slack.drain()
    assert slack.fake.replies_to(ALERT_CHANNEL, ts) == []


# message.im


async def test_a_dm_is_logged_once_as_a_draft_with_an_edit_button(slack: SlackKit) -> None:
    incident, channel = await _log_draft(slack)

    assert incident.status is IncidentStatus.OPEN
    assert incident.source is IncidentSource.SLACK
    assert incident.title == "etcd leader election flapping"
    assert incident.summary == DM_TEXT
    assert incident.commander_id == slack.admin.id  # type: ignore[attr-defined]

    [confirmation] = slack.fake.messages_in(channel)
    assert "etcd leader election flapping" in (confirmation.text or "")
    actions = [b for b in confirmation.blocks or [] if b["type"] == "actions"]
    assert len(actions) == 1
    [button] = actions[0]["elements"]
    assert button["type"] == "button"
    assert button["action_id"] == "edit_incident"
    assert button["value"] == str(incident.id)

    # Slack delivers the same event again (it thought we missed it): nothing new.
    again = await slack.event(_dm(channel), event_id="Ev0DM0001")
    assert again.status_code == 200
    await slack.drain()
    assert await Incident.filter(tenant=slack.tenant).count() == 1
    assert len(slack.fake.messages_in(channel)) == 1


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({"bot_id": "B0OTHER", "user": "U0OTHERBOT"}, id="another-bot"),
        pytest.param({"subtype": "message_changed"}, id="an-edit"),
        pytest.param({"subtype": "bot_message"}, id="a-bot-message"),
        pytest.param({"user": BOT_USER}, id="our-own-bot"),
    ],
)
async def test_dms_not_from_a_person_log_nothing(slack: SlackKit, extra: dict[str, Any]) -> None:
    channel = await _dm_channel(slack)
    response = await slack.event(_dm(channel, **extra), event_id="Ev0NOTAPERSON")
    assert response.status_code == 200
    await slack.drain()
    assert await Incident.filter(tenant=slack.tenant).count() == 0
    assert slack.fake.messages_in(channel) == []


async def test_an_event_from_an_unknown_workspace_changes_nothing(slack: SlackKit) -> None:
    channel = await _dm_channel(slack)
    calls_before = len(slack.fake.calls)
    response = await slack.event(_dm(channel), event_id="Ev0STRANGER", team="T0NOBODY")
    assert response.status_code == 200
    assert response.content == b""
    await slack.drain()
    assert await Incident.all().count() == 0
    assert await SlackEventReceipt.all().count() == 0
    assert len(slack.fake.calls) == calls_before  # nobody was asked or answered


# Edit: the draft becomes a full knowledge entry


def _values(*, title: str, rule: str, severity: str = "critical") -> dict[str, Any]:
    def text(value: str) -> dict[str, Any]:
        return {"value": {"type": "plain_text_input", "value": value}}

    return {
        "title": text(title),
        "severity": {"value": {"type": "static_select", "selected_option": {"value": severity}}},
        "tags": text("etcd, kube-system"),
        "match_rule": text(rule),
        "root_cause": text("Disk latency on the etcd volumes starved the heartbeats."),
        "solution": text("Moved etcd to local NVMe and restarted etcd-2."),
    }


async def test_edit_opens_the_draft_in_a_modal_and_saves_it(slack: SlackKit) -> None:
    incident, channel = await _log_draft(slack)

    clicked = await slack.click("edit_incident", str(incident.id), channel=channel)
    assert clicked.status_code == 200
    [opened] = slack.fake.views
    assert opened.trigger_id == slack.last_trigger_id
    view = opened.view
    assert view["callback_id"] == "kb_edit"
    assert view["private_metadata"] == str(incident.id)
    inputs = {b["block_id"]: b["element"] for b in view["blocks"]}
    assert inputs["title"]["initial_value"] == "etcd leader election flapping"
    assert inputs["solution"]["initial_value"] == DM_TEXT  # the DM, to start from

    # A rule that is not label=value pairs goes back into the modal, at its field.
    refused = await slack.submit(view, _values(title="etcd elections flap", rule="nonsense"))
    assert refused.status_code == 200
    answer = refused.json()
    assert answer["response_action"] == "errors"
    assert list(answer["errors"]) == ["match_rule"]
    assert "nonsense" in answer["errors"]["match_rule"]
    unchanged = await Incident.get(id=incident.id)
    assert (unchanged.title, unchanged.status, unchanged.match_rule) == (
        "etcd leader election flapping",
        IncidentStatus.OPEN,
        None,
    )

    saved = await slack.submit(
        view, _values(title="etcd leader elections flap under disk latency", rule=RULE)
    )
    assert saved.status_code == 200
    assert saved.content == b""  # the modal closes
    await incident.refresh_from_db()
    assert incident.title == "etcd leader elections flap under disk latency"
    assert incident.severity is Severity.CRITICAL
    assert incident.root_cause == "Disk latency on the etcd volumes starved the heartbeats."
    assert incident.solution == "Moved etcd to local NVMe and restarted etcd-2."
    assert incident.tags == ["etcd", "kube-system"]
    assert incident.match_rule == {
        "alertname": "EtcdLeaderChanges",
        "labels": {"namespace": "kube-system"},
    }
    assert incident.status is IncidentStatus.RESOLVED
    assert incident.resolved_at is not None


async def test_saving_the_edit_keeps_what_the_dm_said(slack: SlackKit) -> None:
    incident, channel = await _log_draft(slack)
    await slack.click("edit_incident", str(incident.id), channel=channel)
    [opened] = slack.fake.views
    saved = await slack.submit(opened.view, _values(title="etcd elections flap", rule=RULE))
    assert saved.status_code == 200
    await incident.refresh_from_db()
    assert incident.status is IncidentStatus.RESOLVED
    assert incident.summary == DM_TEXT


async def test_edit_of_an_entry_that_is_gone_says_so(slack: SlackKit) -> None:
    incident, channel = await _log_draft(slack)
    await Incident.filter(id=incident.id).delete()
    clicked = await slack.click("edit_incident", str(incident.id), channel=channel)
    assert clicked.status_code == 200
    assert slack.fake.views == []
    [told] = slack.fake.responses[slack.last_response_url]
    assert told["response_type"] == "ephemeral"
    assert "no longer exists" in told["text"]
