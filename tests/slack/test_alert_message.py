"""A webhook alert appears in the fake Slack channel with the spec's layout (1.3),
and its message is updated in place through acknowledge and resolve, with the
thread telling what happened and the "new issue" prompt (1.4) at the end."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import Block

from opswatch.audit.actor import Actor
from opswatch.models import Alert, AlertStatus, Notification
from opswatch.rosters.rosters import RosterSpec, create_roster
from opswatch.slack import alert_sync
from opswatch.tenants.services import create_service
from tests.slack.support import ADMIN_SLACK, ALERT_CHANNEL, SlackKit

ACTOR = Actor.system("test")
RUNBOOK = "https://runbooks.example/crashloop"


async def _service_with_oncall(slack: SlackKit, channel: str | None = None) -> None:
    roster = await create_roster(
        tenant=slack.tenant,
        actor=ACTOR,
        spec=RosterSpec(name="Payments", timezone="Europe/Berlin", rotation_length_days=7),
        member_ids=[str(slack.admin.id)],
    )
    await create_service(
        tenant=slack.tenant,
        name="payment-gateway",
        cluster="production-de-01",
        namespace="customer-api",
        roster_id=str(roster.id),
        slack_channel=channel,
        actor=ACTOR,
    )


async def _fire(slack: SlackKit, **extra: Any) -> Alert:
    body = {
        "receiver": "opswatch",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "alertname": "PodCrashLoopBackOff",
                    "severity": "critical",
                    "cluster": "production-de-01",
                    "namespace": "customer-api",
                },
                "annotations": {"summary": "Pod CrashLoopBackOff", "runbook_url": RUNBOOK},
                "startsAt": "2026-11-27T03:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": "crashloop-1",
                **extra,
            }
        ],
        "groupKey": "{}:{}",
        "version": "4",
    }
    response = await slack.http.post(
        "/api/v1/webhooks/alertmanager", json=body, headers={"X-API-Key": slack.kit.api_key}
    )
    assert response.status_code == 202, response.text
    await slack.drain()
    return await Alert.get(tenant=slack.tenant, fingerprint="crashloop-1")


def _validated(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every block parses with the SDK's models and renders back identically."""
    parsed = [Block.parse(b) for b in blocks]
    assert all(p is not None for p in parsed)
    return [p.to_dict() for p in parsed if p is not None]


async def test_a_webhook_alert_is_posted_with_the_spec_layout(slack: SlackKit) -> None:
    await _service_with_oncall(slack)
    alert = await _fire(slack)

    [message] = slack.fake.messages_in(ALERT_CHANNEL)
    assert (alert.slack_channel, alert.slack_ts) == (ALERT_CHANNEL, message.ts)
    blocks = message.blocks
    assert blocks is not None
    assert _validated(blocks) == blocks
    # Spec 1.3, field by field.
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "🔴 CRITICAL: Pod CrashLoopBackOff"},
    }
    assert blocks[1] == {
        "type": "section",
        "fields": [
            {"type": "mrkdwn", "text": "*Cluster:* production-de-01"},
            {"type": "mrkdwn", "text": "*Namespace:* customer-api"},
            {"type": "mrkdwn", "text": "*Service:* payment-gateway"},
            {"type": "mrkdwn", "text": f"*On-Call:* <@{ADMIN_SLACK}> (Acme Admin)"},
        ],
    }
    assert blocks[2] == {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "✅ Acknowledge"},
                "action_id": "ack_alert",
                "value": str(alert.id),
            },
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "📋 View Runbook"},
                "action_id": "view_runbook",
                "url": RUNBOOK,
            },
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "🔼 Escalate"},
                "action_id": "escalate_alert",
                "value": str(alert.id),
                "style": "danger",
            },
        ],
    }
    assert len(blocks) == 3  # no known solution yet
    assert "Pod CrashLoopBackOff" in (message.text or "")
    # The on-call person was found by e-mail, once, and remembered.
    assert slack.fake.calls_to("users.lookupByEmail") == [{"email": slack.admin.email}]
    await slack.admin.refresh_from_db()
    assert slack.admin.slack_user_id == ADMIN_SLACK


async def test_the_message_follows_the_alert_through_acknowledge_and_resolve(
    slack: SlackKit,
) -> None:
    await _service_with_oncall(slack)
    alert = await _fire(slack)
    [message] = slack.fake.messages_in(ALERT_CHANNEL)

    response = await slack.click("ack_alert", str(alert.id), message_ts=message.ts)
    assert response.status_code == 200
    await slack.drain()
    await alert.refresh_from_db()
    assert alert.status is AlertStatus.ACKNOWLEDGED
    assert alert.acknowledged_by_id == slack.admin.id  # type: ignore[attr-defined]
    acknowledged = slack.fake.message(ALERT_CHANNEL, message.ts)
    assert len(acknowledged.versions) == 2  # updated in place, not posted again
    assert len(slack.fake.messages_in(ALERT_CHANNEL)) == 1
    buttons = [e["action_id"] for e in acknowledged.blocks[2]["elements"]]  # type: ignore[index]
    assert buttons == ["view_runbook", "escalate_alert"]
    state = acknowledged.blocks[-1]  # type: ignore[index]
    assert state["type"] == "context"
    assert state["elements"][0]["text"].startswith(f"✅ Acknowledged by <@{ADMIN_SLACK}>")
    [ack_line] = slack.fake.replies_to(ALERT_CHANNEL, message.ts)
    assert ack_line.text == f"✅ Acknowledged by <@{ADMIN_SLACK}> (Acme Admin)."

    answer = await slack.answer(f"resolve {alert.short_id} restarted the pod")
    assert answer["response_type"] == "ephemeral"
    assert "You resolved alert" in answer["text"]
    await slack.drain()
    resolved = slack.fake.message(ALERT_CHANNEL, message.ts)
    assert len(resolved.versions) == 3
    assert [b["type"] for b in resolved.blocks or []] == ["header", "section", "actions", "context"]
    assert [e["action_id"] for e in resolved.blocks[2]["elements"]] == ["view_runbook"]  # type: ignore[index]
    thread = slack.fake.replies_to(ALERT_CHANNEL, message.ts)
    assert [m.text for m in thread][1].startswith(f"✔️ Resolved by <@{ADMIN_SLACK}>")
    prompt = thread[2]
    assert prompt.blocks == [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "✅ Alert *Pod CrashLoopBackOff* resolved by "
                f"<@{ADMIN_SLACK}> (Acme Admin).\n\n"
                "This looks like a *new issue* not in the knowledge base.",
            },
        },
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "📝 Add to Knowledge Base"},
                    "action_id": "create_incident_modal",
                    "value": str(alert.id),
                },
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Skip"},
                    "action_id": "skip_kb_entry",
                    "value": str(alert.id),
                },
            ],
        },
    ]
    # Syncing again (a retried job) posts nothing more.
    await alert_sync.Alert.filter(id=alert.id).update(notify_pending=True)
    await alert_sync.sync_due()
    assert len(slack.fake.replies_to(ALERT_CHANNEL, message.ts)) == 3
    assert len(slack.fake.messages_in(ALERT_CHANNEL)) == 1


async def test_a_storm_of_repeats_is_one_message(slack: SlackKit) -> None:
    for _ in range(5):
        await _fire(slack)
    alert = await Alert.get(tenant=slack.tenant, fingerprint="crashloop-1")
    assert alert.occurrences == 5
    assert len(slack.fake.messages_in(ALERT_CHANNEL)) == 1
    assert slack.fake.calls_to("chat.update") == []  # repeats change nothing the message shows


async def test_the_service_channel_wins_over_the_tenant_channel(slack: SlackKit) -> None:
    await _service_with_oncall(slack, channel="C0PAYMENTS")
    await _fire(slack)
    assert len(slack.fake.messages_in("C0PAYMENTS")) == 1
    assert slack.fake.messages_in(ALERT_CHANNEL) == []


async def test_a_rate_limit_from_slack_is_waited_out(slack: SlackKit) -> None:
    slack.fake.rate_limit_next(retry_after=1)
    await _fire(slack)
    assert len(slack.fake.messages_in(ALERT_CHANNEL)) == 1
    assert len(slack.fake.calls_to("chat.postMessage")) == 2  # the 429, then the retry


async def test_a_slack_outage_leaves_the_alert_due_and_ingest_unharmed(slack: SlackKit) -> None:
    slack.fake.server_error_next(status=503)
    alert = await _fire(slack)
    assert alert.status is AlertStatus.FIRING  # stored whatever Slack does
    assert slack.fake.messages_in(ALERT_CHANNEL) == []
    assert alert.slack_ts is None
    assert alert.notify_pending is True
    assert alert.notify_claimed_until is not None  # not before this: no hammering
    # Slack recovers; the periodic run (here: once the back-off has passed) posts it.
    await Alert.filter(id=alert.id).update(notify_claimed_until=alert.created_at)
    await alert_sync.sync_due()
    assert len(slack.fake.messages_in(ALERT_CHANNEL)) == 1
    notices = await Notification.filter(tenant=slack.tenant, kind="alert.message")
    assert [n.status.value for n in notices] == ["sent"]


async def test_long_titles_are_clipped_not_rejected(slack: SlackKit) -> None:
    await _fire(slack, annotations={"summary": "x" * 400, "runbook_url": RUNBOOK})
    [message] = slack.fake.messages_in(ALERT_CHANNEL)
    header = message.blocks[0]["text"]["text"]  # type: ignore[index]
    assert len(header) == 150
    assert header.endswith("…")
