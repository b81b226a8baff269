"""The escalation engine on a controlled clock: tier timing, repeat and exhaustion,
acknowledge stops it, "escalate" jumps ahead, an empty roster falls through,
concurrent ticks page once, agent-resolved and low-severity alerts never escalate."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx

from opswatch.alerts import actions
from opswatch.audit.actor import Actor
from opswatch.escalation.engine import run_due
from opswatch.models import (
    Alert,
    AlertStatus,
    AuditLog,
    Channel,
    DeliveryStatus,
    EscalationEvent,
    EscalationState,
    Severity,
)
from opswatch.runtime import Runtime
from tests.escalation.support import fire, settle, two_tier_policy
from tests.factories import TenantKit, graphql

DM = [Channel.SLACK_DM]


async def attempts(alert: Alert) -> list[tuple[int, int, str, str]]:
    rows = await EscalationEvent.filter(alert=alert).order_by("cycle", "tier", "created_at")
    return [(e.cycle, e.tier, e.target, e.channel.value) for e in rows]


async def test_tier_one_at_once_then_each_tier_after_its_delay_then_exhausted(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime
) -> None:
    setup = await two_tier_policy(acme, channels=DM, repeat=1)
    alert = await fire(client, acme, app_runtime)
    pat, morgan = str(setup.primary.id), str(setup.manager.id)
    # Tier 1 went out when the alert opened (the pipeline woke the engine).
    assert await attempts(alert) == [(0, 1, pat, "slack_dm")]
    await alert.refresh_from_db()
    opened = alert.escalation_next_at
    assert opened is not None

    # Before the 5-minute delay nothing moves; after it, tier 2.
    assert await run_due(opened - timedelta(seconds=1)) == []
    [step] = await run_due(opened)
    assert (step.tier, step.cycle) == (2, 0)
    # Then the policy runs once more (repeat 1), then it is exhausted.
    await alert.refresh_from_db()
    assert alert.escalation_next_at == opened + timedelta(minutes=10)
    later = alert.escalation_next_at
    [step] = await run_due(later)
    assert (step.tier, step.cycle) == (1, 1)
    await alert.refresh_from_db()
    [step] = await run_due(alert.escalation_next_at)
    assert (step.tier, step.cycle) == (2, 1)
    await alert.refresh_from_db()
    [step] = await run_due(alert.escalation_next_at)
    assert step.exhausted
    await settle(app_runtime)
    await alert.refresh_from_db()
    assert alert.escalation_state is EscalationState.EXHAUSTED
    assert await attempts(alert) == [
        (0, 1, pat, "slack_dm"),
        (0, 2, morgan, "slack_dm"),
        (1, 1, pat, "slack_dm"),
        (1, 2, morgan, "slack_dm"),
    ]
    assert await AuditLog.filter(action="alert.escalation_exhausted").count() == 1
    body = await graphql(
        client,
        acme.admin_token,
        "query($id: ID!) { alert(id: $id) { escalationState escalationTier escalationCycle "
        "escalationEvents { tier cycle channel status user { name } } } }",
        id=str(alert.id),
    )
    shown = body["data"]["alert"]
    assert shown["escalationState"] == "EXHAUSTED"
    assert [(e["cycle"], e["tier"], e["user"]["name"]) for e in shown["escalationEvents"]] == [
        (0, 1, "Pat"),
        (0, 2, "Morgan"),
        (1, 1, "Pat"),
        (1, 2, "Morgan"),
    ]


async def test_acknowledging_stops_escalation(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime
) -> None:
    await two_tier_policy(acme, channels=DM)
    alert = await fire(client, acme, app_runtime)
    await alert.refresh_from_db()
    due = alert.escalation_next_at
    assert due is not None
    await actions.acknowledge(alert=alert, user=acme.admin, actor=Actor.system("test"))
    assert await run_due(due + timedelta(hours=1)) == []
    await alert.refresh_from_db()
    assert alert.escalation_state is EscalationState.STOPPED
    assert len(await attempts(alert)) == 1


async def test_escalate_reaches_the_next_tier_now(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime
) -> None:
    setup = await two_tier_policy(acme, channels=DM)
    alert = await fire(client, acme, app_runtime)
    body = await graphql(
        client,
        acme.admin_token,
        "mutation($id: ID!) { escalateAlert(id: $id) { id } }",
        id=str(alert.id),
    )
    assert "errors" not in body
    await settle(app_runtime)  # the mutation woke the engine: no waiting for the delay
    assert [(t, target) for _, t, target, _ in await attempts(alert)] == [
        (1, str(setup.primary.id)),
        (2, str(setup.manager.id)),
    ]


async def test_an_acknowledged_alert_still_escalates_when_asked_once(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime
) -> None:
    await two_tier_policy(acme, channels=DM)
    alert = await fire(client, acme, app_runtime)
    await actions.acknowledge(alert=alert, user=acme.admin, actor=Actor.system("test"))
    await alert.refresh_from_db()
    await actions.request_escalation(alert=alert, actor=Actor.system("test"))
    await settle(app_runtime)
    await alert.refresh_from_db()
    assert alert.status is AlertStatus.ACKNOWLEDGED
    assert alert.escalation_state is EscalationState.STOPPED
    tier_two = await EscalationEvent.get(alert=alert, tier=2)
    assert tier_two.status is not DeliveryStatus.CANCELED


async def test_nobody_on_call_is_recorded_and_the_named_users_are_still_reached(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime
) -> None:
    setup = await two_tier_policy(acme, channels=DM, members=False)
    alert = await fire(client, acme, app_runtime)
    [gap] = await EscalationEvent.filter(alert=alert, tier=1)
    assert gap.status is DeliveryStatus.FAILED
    assert gap.reason == "nobody is on call for Primary"
    await alert.refresh_from_db()
    assert alert.escalation_next_at is not None
    await run_due(alert.escalation_next_at)
    [manager] = await EscalationEvent.filter(alert=alert, tier=2)
    assert manager.user_id == setup.manager.id  # type: ignore[attr-defined]


async def test_two_concurrent_ticks_take_each_step_once(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime
) -> None:
    await two_tier_policy(acme, channels=DM)
    alerts = [await fire(client, acme, app_runtime, fingerprint=f"fp-{n}") for n in range(5)]
    due = max(a.escalation_next_at for a in alerts if a.escalation_next_at) + timedelta(minutes=6)
    first, second = await asyncio.gather(run_due(due), run_due(due))
    assert len(first) + len(second) == 5
    assert await EscalationEvent.filter(tier=2).count() == 5
    assert await AuditLog.filter(action="alert.escalated").count() == 10


async def test_a_retried_tick_records_nothing_twice(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime
) -> None:
    """The unique attempt row: even if a step were computed twice, it is stored once."""
    await two_tier_policy(acme, channels=DM)
    alert = await fire(client, acme, app_runtime)
    before = await EscalationEvent.all().count()
    await Alert.filter(id=alert.id).update(escalation_tier=0)  # as if the step never saved
    await alert.refresh_from_db()
    assert alert.escalation_next_at is not None
    await Alert.filter(id=alert.id).update(escalation_next_at=alert.escalation_next_at)
    await run_due(alert.escalation_next_at)
    assert await EscalationEvent.all().count() == before


async def test_agent_resolved_and_below_minimum_severity_alerts_do_not_escalate(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime
) -> None:
    setup = await two_tier_policy(acme, channels=DM)
    setup.policy.minimum_severity = Severity.HIGH
    await setup.policy.save()
    low = await fire(client, acme, app_runtime, fingerprint="noise", severity="warning")
    assert low.escalation_state is EscalationState.NONE
    response = await client.post(
        "/api/v1/webhooks/generic",
        json={
            "title": "Disk full",
            "fingerprint": "agent-fixed",
            "severity": "critical",
            "labels": {"cluster": "production-de-01", "namespace": "customer-api"},
            "agent_metadata": {
                "agent_id": "remediator",
                "action_taken": "cleared /tmp",
                "auto_resolved": True,
            },
        },
        headers={"X-API-Key": acme.api_key},
    )
    assert response.status_code == 202
    await settle(app_runtime)
    fixed = await Alert.get(fingerprint="agent-fixed")
    assert fixed.status is AlertStatus.RESOLVED
    assert fixed.escalation_state is EscalationState.NONE
    assert await EscalationEvent.filter(alert_id__in=[low.id, fixed.id]).count() == 0
