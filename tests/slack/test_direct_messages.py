"""Slack as an escalation channel (a DM with the alert's buttons, or a channel
post), and handoff notices as DMs."""

from __future__ import annotations

from datetime import datetime, timedelta

from opswatch.escalation.engine import STUCK_AFTER, run_due
from opswatch.models import Alert, Channel, DeliveryStatus, EscalationEvent, Notification
from opswatch.rosters.handoffs import detect_handoffs
from opswatch.slack import posting
from opswatch.slack.direct import deliver_notices
from tests.escalation.support import fire, two_tier_policy
from tests.rosters.support import global_primary
from tests.slack.support import TEAM, SlackKit

HANDOFF_DAY_TICK = "2026-01-13T07:01:00+00:00"


async def test_an_escalation_dm_carries_the_alert_and_its_buttons(slack: SlackKit) -> None:
    setup = await two_tier_policy(slack.kit, channels=[Channel.SLACK_DM, Channel.SLACK_CHANNEL])
    slack.fake.add_user(TEAM, "U0PAT", email=setup.primary.email, real_name="Pat")
    alert = await fire(slack.http, slack.kit, slack.runtime)

    events = {e.channel: e for e in await EscalationEvent.filter(alert=alert)}
    personal = events[Channel.SLACK_DM]
    assert personal.status is DeliveryStatus.SENT
    assert personal.provider == "slack"
    channel = slack.fake.dm_channel_of("U0PAT")
    assert channel is not None
    [page] = slack.fake.messages_in(channel)
    assert personal.provider_ref == f"{channel}:{page.ts}"
    assert (page.text or "").startswith("🚨 You are being paged: 🔴 CRITICAL: PodCrashLoopBackOff")
    actions = [b for b in page.blocks or [] if b["type"] == "actions"]
    assert [e["action_id"] for e in actions[0]["elements"]] == ["ack_alert", "escalate_alert"]
    assert actions[0]["elements"][0]["value"] == str(alert.id)

    # The channel attempt went to the tenant's alert channel (the service names none).
    shared = events[Channel.SLACK_CHANNEL]
    assert shared.status is DeliveryStatus.SENT
    assert shared.to_address == "C0ALERTS"
    texts = sorted(m.text or "" for m in slack.fake.messages_in("C0ALERTS"))
    assert len(texts) == 2  # the alert's own message, and the page (in either order)
    assert texts[0].startswith("<!here> 🚨 Paging this channel: 🔴 CRITICAL: PodCrashLoopBackOff")


async def test_someone_slack_does_not_know_fails_visibly(slack: SlackKit) -> None:
    await two_tier_policy(slack.kit, channels=[Channel.SLACK_DM])
    alert = await fire(slack.http, slack.kit, slack.runtime)  # Pat is not in the workspace
    [event] = await EscalationEvent.filter(alert=alert)
    assert event.status is DeliveryStatus.FAILED
    assert event.reason == "no Slack account matches pat@acme.example"


async def test_the_next_tier_is_told_in_the_alerts_thread(slack: SlackKit) -> None:
    setup = await two_tier_policy(slack.kit, channels=[Channel.SLACK_DM])
    slack.fake.add_user(TEAM, "U0PAT", email=setup.primary.email, real_name="Pat")
    slack.fake.add_user(TEAM, "U0MORGAN", email=setup.manager.email, real_name="Morgan")
    alert = await fire(slack.http, slack.kit, slack.runtime)
    await run_due(alert.created_at + timedelta(minutes=6))
    await slack.drain()
    await alert.refresh_from_db()
    assert alert.escalation_tier == 2
    morgan = slack.fake.dm_channel_of("U0MORGAN")
    assert morgan is not None
    assert len(slack.fake.messages_in(morgan)) == 1
    [message] = slack.fake.messages_in("C0ALERTS")
    assert message.blocks is not None
    assert message.blocks[-1]["elements"][0]["text"] == "🔼 Escalated to tier 2"
    [line] = slack.fake.replies_to("C0ALERTS", message.ts)
    assert line.text == "🔼 Escalated to tier 2."


async def test_handoff_notices_go_out_as_dms(slack: SlackKit) -> None:
    spec = await global_primary(slack.tenant)
    for name in ("Alice", "Katja"):
        person = spec.people[name]
        slack.fake.add_user(TEAM, f"U0{name.upper()}", email=person.email, real_name=name)
    await detect_handoffs(datetime.fromisoformat(HANDOFF_DAY_TICK))
    assert await deliver_notices() == 2
    assert await deliver_notices() == 0  # sent once
    incoming = slack.fake.dm_channel_of("U0KATJA")
    assert incoming is not None
    [notice] = slack.fake.messages_in(incoming)
    assert (notice.text or "").startswith("You are now on-call for Global Primary.")
    stored = await Notification.get(kind="handoff.incoming")
    assert stored.status is DeliveryStatus.SENT
    assert stored.provider_ref == f"{incoming}:{notice.ts}"
    assert await Alert.all().count() == 0


async def test_a_dm_left_sending_by_a_dead_job_is_marked_unknown_not_sent_again(
    slack: SlackKit,
) -> None:
    spec = await global_primary(slack.tenant)
    for name in ("Alice", "Katja"):
        person = spec.people[name]
        slack.fake.add_user(TEAM, f"U0{name.upper()}", email=person.email, real_name=name)
    await detect_handoffs(datetime.fromisoformat(HANDOFF_DAY_TICK))
    # A job claimed Katja's notice and died before Slack answered.
    [dead] = await Notification.filter(kind="handoff.incoming")
    assert await posting.claim(dead)
    assert await deliver_notices() == 1  # Alice's; Katja's may still be on its way
    await dead.refresh_from_db()
    assert dead.status is DeliveryStatus.SENDING

    assert dead.updated_at is not None
    await Notification.filter(id=dead.id).update(
        updated_at=dead.updated_at - STUCK_AFTER - timedelta(seconds=1)
    )
    # One claimed before migration 0010 gave claims a time: its creation stands in.
    older = await posting.notice(
        tenant_id=slack.tenant.id,
        key="handoff:claimed-before-0010",
        kind="handoff.incoming",
        text="You are now on-call for Global Primary.",
        payload={},
        channel=Channel.SLACK_DM,
        user_id=spec.people["Katja"].id,
        status=DeliveryStatus.SENDING,
    )
    await Notification.filter(id=older.id).update(
        created_at=older.created_at - STUCK_AFTER - timedelta(seconds=1)
    )
    assert await deliver_notices() == 0
    await older.refresh_from_db()
    assert older.status is DeliveryStatus.UNKNOWN
    await dead.refresh_from_db()
    assert dead.status is DeliveryStatus.UNKNOWN
    assert dead.error == "the sending job stopped while sending; not sent again in case it went out"
    assert slack.fake.dm_channel_of("U0KATJA") is None  # never posted, and not posted now
    # Alice's notice, sent, is left as it was.
    sent = await Notification.get(kind="handoff.outgoing")
    assert sent.status is DeliveryStatus.SENT
    assert sent.updated_at is not None
    assert sent.updated_at >= sent.created_at
