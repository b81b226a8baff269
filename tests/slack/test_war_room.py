"""Promotion to an incident (spec 5): the war room in Slack, later alert updates
in its thread, and the root cause and solution asked for on resolution."""

from __future__ import annotations

from typing import Any

import pytest

from opswatch.models import Alert, Incident, IncidentSource, IncidentStatus
from opswatch.slack import bursts, posting
from tests.factories import graphql
from tests.slack.support import ALERT_CHANNEL, SlackKit

PROMOTE = """
mutation($ids: [ID!]!, $title: String) {
  promoteToIncident(alertIds: $ids, title: $title) {
    id title status source missingKnowledge alerts { shortId } commander { name }
  }
}
"""


async def _fire(slack: SlackKit, name: str, severity: str) -> Alert:
    response = await slack.http.post(
        "/api/v1/webhooks/generic",
        json={
            "title": name,
            "severity": severity,
            "fingerprint": name,
            "labels": {"alertname": name.replace(" ", ""), "namespace": "payments"},
        },
        headers={"X-API-Key": slack.kit.api_key},
    )
    assert response.status_code == 202
    await slack.drain()
    return await Alert.get(tenant=slack.tenant, fingerprint=name)


def _values(**fields: str) -> dict[str, Any]:
    return {
        block: {"value": {"type": "plain_text_input", "value": text}}
        for block, text in fields.items()
    }


async def test_promotion_opens_a_war_room_that_follows_the_alerts(slack: SlackKit) -> None:
    db = await _fire(slack, "Database down", "critical")
    api = await _fire(slack, "API errors", "high")
    body = await graphql(
        slack.http,
        slack.kit.admin_token,
        PROMOTE,
        ids=[str(db.id), api.short_id],
        title="Payments outage",
    )
    promoted = body["data"]["promoteToIncident"]
    assert promoted["title"] == "Payments outage"
    assert promoted["status"] == "INVESTIGATING"
    assert promoted["source"] == "PROMOTION"
    assert sorted(a["shortId"] for a in promoted["alerts"]) == sorted([db.short_id, api.short_id])
    assert promoted["commander"] == {"name": "Acme Admin"}
    await slack.drain()

    incident = await Incident.get(id=promoted["id"])
    assert incident.slack_thread_ts is not None
    room = slack.fake.message(ALERT_CHANNEL, incident.slack_thread_ts)
    assert room.blocks is not None
    assert room.blocks[0]["text"]["text"] == "🚨 Incident: Payments outage"
    assert f"`{db.short_id}`" in room.blocks[2]["text"]["text"]
    assert room.blocks[3]["elements"][0]["action_id"] == "resolve_incident"
    assert slack.fake.replies_to(ALERT_CHANNEL, incident.slack_thread_ts) == []

    # A later change of a linked alert is told in the war room's thread.
    await slack.answer(f"ack {db.short_id}")
    await slack.drain()
    [line] = slack.fake.replies_to(ALERT_CHANNEL, incident.slack_thread_ts)
    assert line.text == f"`{db.short_id}` ✅ Acknowledged by <@U0ADMIN> (Acme Admin)."
    updated = slack.fake.message(ALERT_CHANNEL, incident.slack_thread_ts)
    assert updated.blocks is not None
    assert f"`{db.short_id}` *Database down* · ✅ acknowledged" in updated.blocks[2]["text"]["text"]

    # Resolving from Slack asks for root cause and solution, both required.
    await slack.click("resolve_incident", str(incident.id), message_ts=incident.slack_thread_ts)
    [modal] = [v for v in slack.fake.views if v.view["callback_id"] == "incident_resolve"]
    missing = await slack.submit(modal.view, _values(root_cause="Primary ran out of disk"))
    assert missing.json() == {
        "response_action": "errors",
        "errors": {"solution": "solution: say what fixed it"},
    }
    done = await slack.submit(
        modal.view,
        _values(root_cause="Primary ran out of disk", solution="Grew the volume to 2 TB"),
    )
    assert done.status_code == 200
    await slack.drain()
    await incident.refresh_from_db()
    assert incident.status is IncidentStatus.RESOLVED
    assert incident.solution == "Grew the volume to 2 TB"
    thread = slack.fake.replies_to(ALERT_CHANNEL, incident.slack_thread_ts)
    assert (thread[-1].text or "").startswith(
        "✅ *Resolved.*\n*Root cause:* Primary ran out of disk"
    )
    final = slack.fake.message(ALERT_CHANNEL, incident.slack_thread_ts)
    assert final.blocks is not None
    assert all(b["type"] != "actions" for b in final.blocks)  # nothing left to do


async def test_an_alert_belongs_to_one_incident(slack: SlackKit) -> None:
    alert = await _fire(slack, "Queue backlog", "high")
    first = await graphql(slack.http, slack.kit.admin_token, PROMOTE, ids=[str(alert.id)])
    assert "errors" not in first
    again = await graphql(slack.http, slack.kit.admin_token, PROMOTE, ids=[str(alert.id)])
    assert again["errors"][0]["extensions"] == {"code": "CONFLICT", "field": "alertIds"}
    unknown = await graphql(slack.http, slack.kit.admin_token, PROMOTE, ids=["zzz999"])
    assert unknown["errors"][0]["extensions"]["field"] == "alertIds"
    assert await Incident.filter(source=IncidentSource.PROMOTION).count() == 1


async def test_promote_from_slack_by_command_and_from_a_storm(
    slack: SlackKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await _fire(slack, "Cache misses", "warning")
    second = await _fire(slack, "Cache evictions", "high")
    answer = await slack.answer(f"promote {first.short_id} {second.short_id} -- Cache meltdown")
    assert answer["text"].startswith("🚨 Incident *Cache meltdown* is open")
    incident = await Incident.get(title="Cache meltdown")
    assert await Alert.filter(incident_id=incident.id).count() == 2
    await slack.drain()
    assert incident.id is not None
    assert (await Incident.get(id=incident.id)).slack_thread_ts is not None

    monkeypatch.setattr(posting.pacer, "interval", 0.0)
    for i in range(bursts.BURST_LIMIT + 2):
        await _fire(slack, f"Node {i} down", "high")
    storm = slack.fake.messages_in(ALERT_CHANNEL)[-1]
    assert storm.blocks is not None
    assert storm.blocks[-1]["elements"][0]["action_id"] == "promote_incident"
    await slack.click("promote_incident", "storm", message_ts=storm.ts)
    await slack.drain()
    [told] = slack.fake.responses[slack.last_response_url]
    assert told["text"].startswith("🚨 Incident *Alert storm: ")
    listed = await Alert.filter(tenant=slack.tenant, slack_ts=storm.ts)
    assert listed
    assert {a.incident_id for a in listed} != {None}  # type: ignore[attr-defined]


async def test_resolved_without_knowledge_asks_for_it_in_the_war_room(slack: SlackKit) -> None:
    alert = await _fire(slack, "Mystery reboot", "high")
    body = await graphql(slack.http, slack.kit.admin_token, PROMOTE, ids=[str(alert.id)])
    incident_id = body["data"]["promoteToIncident"]["id"]
    await slack.drain()
    closed = await graphql(
        slack.http,
        slack.kit.admin_token,
        "mutation($id: ID!, $input: IncidentUpdate!) "
        "{ updateIncident(id: $id, input: $input) { status missingKnowledge } }",
        id=incident_id,
        input={"title": "Mystery reboot", "status": "RESOLVED"},
    )
    assert closed["data"]["updateIncident"] == {"status": "RESOLVED", "missingKnowledge": True}
    await slack.drain()
    incident = await Incident.get(id=incident_id)
    room = slack.fake.message(ALERT_CHANNEL, incident.slack_thread_ts or "")
    assert room.blocks is not None
    [button] = room.blocks[-1]["elements"]
    assert (button["action_id"], button["text"]["text"]) == (
        "resolve_incident",
        "📝 Add root cause and solution",
    )
    [line] = slack.fake.replies_to(ALERT_CHANNEL, incident.slack_thread_ts or "")
    assert (line.text or "").startswith("✅ Resolved, but without a root cause and a solution.")
