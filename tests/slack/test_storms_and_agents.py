"""Alert storms coalesced into one message per channel and minute; the per-channel
pace; an agent's automatic fix posted as an informational summary (spec 2.4)."""

from __future__ import annotations

import time

import pytest

from opswatch.models import Alert, AlertStatus, Incident
from opswatch.slack import bursts, posting
from opswatch.slack.alert_sync import sync_due
from tests.alerts.payloads import agent_body
from tests.slack.support import ALERT_CHANNEL, SlackKit


async def _fire_many(slack: SlackKit, count: int) -> None:
    body = [
        {"title": f"Node {i} not ready", "severity": "high", "fingerprint": f"node-{i}"}
        for i in range(count)
    ]
    response = await slack.http.post(
        "/api/v1/webhooks/generic", json=body, headers={"X-API-Key": slack.kit.api_key}
    )
    assert response.status_code == 202
    await slack.drain()


@pytest.fixture
def unpaced(monkeypatch: pytest.MonkeyPatch) -> None:
    """Storm tests post dozens of messages; at Slack's real pace they take a minute."""
    monkeypatch.setattr(posting.pacer, "interval", 0.0)


@pytest.mark.usefixtures("unpaced")
async def test_a_storm_becomes_one_message_listing_the_rest(slack: SlackKit) -> None:
    await _fire_many(slack, bursts.BURST_LIMIT + 5)
    messages = slack.fake.messages_in(ALERT_CHANNEL)
    assert len(messages) == bursts.BURST_LIMIT + 1
    storm = messages[-1]
    assert storm.blocks is not None
    assert storm.blocks[0]["text"]["text"] == "🔥 Alert storm: 5 more alerts in this channel"
    listed = await Alert.filter(tenant=slack.tenant, slack_ts=storm.ts).order_by("created_at", "id")
    assert len(listed) == 5
    lines = storm.blocks[1]["text"]["text"].splitlines()
    assert lines[0] == f"🟠 `{listed[0].short_id}` *{listed[0].title}* · firing"

    answer = await slack.answer(f"ack {listed[0].short_id}")
    assert "You acknowledged" in answer["text"]
    await slack.drain()
    updated = slack.fake.message(ALERT_CHANNEL, storm.ts)
    assert updated.blocks is not None
    assert updated.blocks[1]["text"]["text"].splitlines()[0].endswith("· ✅ acknowledged")
    [line] = slack.fake.replies_to(ALERT_CHANNEL, storm.ts)
    assert line.text == f"`{listed[0].short_id}` ✅ Acknowledged by <@U0ADMIN> (Acme Admin)."


async def test_posts_to_one_channel_keep_slacks_pace(slack: SlackKit) -> None:
    started = time.monotonic()
    await _fire_many(slack, 3)
    assert len(slack.fake.messages_in(ALERT_CHANNEL)) == 3
    assert time.monotonic() - started >= 2 * posting.CHANNEL_INTERVAL_SECONDS


async def test_an_agent_fix_is_an_informational_summary(slack: SlackKit) -> None:
    payload = agent_body()  # the spec 2.4 example
    response = await slack.http.post(
        "/api/v1/webhooks/generic", json=payload, headers={"X-API-Key": slack.kit.api_key}
    )
    assert response.status_code == 202
    await slack.drain()
    alert = await Alert.get(tenant=slack.tenant)
    assert alert.status is AlertStatus.RESOLVED
    [summary] = slack.fake.messages_in(ALERT_CHANNEL)
    assert summary.blocks is not None
    assert [b["type"] for b in summary.blocks] == ["section", "context"]  # no buttons
    assert summary.blocks[0]["text"]["text"] == (
        "🤖 *k8s-healer-01* resolved *OOM Kill - payment-gateway* automatically.\n"
        "*Action taken:* Increased memory limit from 256Mi to 512Mi and restarted pod"
    )
    context = summary.blocks[1]["elements"][0]["text"]
    assert "result: success · confidence 95%" in context
    assert "nobody was paged" in context
    assert slack.fake.replies_to(ALERT_CHANNEL, summary.ts) == []  # no "new issue" prompt
    assert await Incident.filter(tenant=slack.tenant).count() == 1
    # Touching the alert again never turns the summary into an alert message.
    await Alert.filter(id=alert.id).update(notify_pending=True)
    await sync_due()
    assert len(slack.fake.message(ALERT_CHANNEL, summary.ts).versions) == 1
