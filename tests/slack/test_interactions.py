"""Buttons and the knowledge-entry modal, round trip through the fake Slack."""

from __future__ import annotations

from typing import Any

from opswatch.models import Alert, AlertStatus, AuditLog, Incident, IncidentSource
from tests.slack.support import ALERT_CHANNEL, STRANGER_SLACK, SlackKit


async def _resolved_alert(slack: SlackKit) -> Alert:
    response = await slack.http.post(
        "/api/v1/webhooks/generic",
        json={
            "title": "Pod CrashLoopBackOff",
            "severity": "critical",
            "fingerprint": "crashloop",
            "labels": {"alertname": "PodCrashLoopBackOff", "namespace": "customer-api"},
        },
        headers={"X-API-Key": slack.kit.api_key},
    )
    assert response.status_code == 202
    await slack.drain()
    alert = await Alert.get(tenant=slack.tenant, fingerprint="crashloop")
    await slack.answer(f"resolve {alert.short_id} raised the memory limit to 512Mi")
    await alert.refresh_from_db()
    return alert


def _value(text: str) -> dict[str, Any]:
    return {"value": {"type": "plain_text_input", "value": text}}


def _form(**fields: str) -> dict[str, Any]:
    values = {block: _value(text) for block, text in fields.items() if block != "severity"}
    values["severity"] = {
        "value": {
            "type": "static_select",
            "selected_option": {"value": fields.get("severity", "critical")},
        }
    }
    return values


async def test_add_to_knowledge_base_opens_a_prefilled_modal_and_saves_it(slack: SlackKit) -> None:
    alert = await _resolved_alert(slack)
    response = await slack.click("create_incident_modal", str(alert.id))
    assert response.status_code == 200
    [opened] = slack.fake.views
    assert opened.trigger_id == slack.last_trigger_id
    view = opened.view
    assert view["callback_id"] == "kb_entry"
    assert view["private_metadata"] == str(alert.id)
    initial = {
        b["block_id"]: (b["element"].get("initial_value") or b["element"].get("initial_option"))
        for b in view["blocks"]
    }
    assert initial["title"] == "Pod CrashLoopBackOff"
    assert initial["severity"]["value"] == "critical"
    assert initial["match_rule"] == "alertname=PodCrashLoopBackOff, namespace=customer-api"
    assert initial["solution"] == "raised the memory limit to 512Mi"

    # A bad rule goes back into the modal, next to its field; nothing is saved.
    bad = await slack.submit(
        view, _form(title="Pod CrashLoopBackOff", match_rule="just words", solution="x")
    )
    assert bad.status_code == 200
    assert bad.json()["response_action"] == "errors"
    assert list(bad.json()["errors"]) == ["match_rule"]
    missing = await slack.submit(view, _form(title="Pod CrashLoopBackOff", solution=" "))
    assert missing.json() == {
        "response_action": "errors",
        "errors": {"solution": "Write down what fixed it."},
    }
    assert await Incident.filter(tenant=slack.tenant).count() == 0

    saved = await slack.submit(
        view,
        _form(
            title="Pod CrashLoopBackOff",
            tags="payment-gateway, customer-api",
            match_rule="alertname=PodCrashLoopBackOff, namespace=customer-api",
            root_cause="OOM kill: the limit was 256Mi",
            solution="Scale memory limit from 256Mi to 512Mi.",
        ),
    )
    assert saved.status_code == 200
    assert saved.content == b""
    incident = await Incident.get(tenant=slack.tenant)
    assert incident.source is IncidentSource.SLACK
    assert incident.solution == "Scale memory limit from 256Mi to 512Mi."
    assert incident.match_rule == {
        "alertname": "PodCrashLoopBackOff",
        "labels": {"namespace": "customer-api"},
    }
    assert incident.commander_id == slack.admin.id  # type: ignore[attr-defined]
    await alert.refresh_from_db()
    assert alert.incident_id == incident.id  # type: ignore[attr-defined]
    thread = slack.fake.replies_to(ALERT_CHANNEL, alert.slack_ts or "")
    assert "added *Pod CrashLoopBackOff* to the knowledge base" in (thread[-1].text or "")

    # The other prompt (the thread's, or the one /opswatch resolve gave) adds no second entry.
    await slack.click("create_incident_modal", str(alert.id))
    assert len(slack.fake.views) == 1
    [told] = slack.fake.responses[slack.last_response_url]
    assert told["text"] == "Already in the knowledge base: *Pod CrashLoopBackOff*."


async def test_skip_closes_the_prompt(slack: SlackKit) -> None:
    alert = await _resolved_alert(slack)
    await slack.click("skip_kb_entry", str(alert.id))
    await slack.drain()
    [answer] = slack.fake.responses[slack.last_response_url]
    assert answer["replace_original"] is True
    assert "Not added to the knowledge base" in answer["text"]
    assert all(b["type"] != "actions" for b in answer["blocks"])


async def test_a_click_is_applied_once_and_needs_a_known_responder(slack: SlackKit) -> None:
    response = await slack.http.post(
        "/api/v1/webhooks/generic",
        json={"title": "Queue backlog", "severity": "high", "fingerprint": "backlog"},
        headers={"X-API-Key": slack.kit.api_key},
    )
    assert response.status_code == 202
    await slack.drain()
    alert = await Alert.get(tenant=slack.tenant, fingerprint="backlog")

    await slack.click("ack_alert", str(alert.id), user=STRANGER_SLACK)
    await slack.drain()
    [refusal] = slack.fake.responses[slack.last_response_url]
    assert "can't match your Slack account" in refusal["text"]
    await alert.refresh_from_db()
    assert alert.status is AlertStatus.FIRING

    # Slack redelivers a click it thinks was lost: same action_ts, applied once.
    for _ in range(2):
        await slack.click("escalate_alert", str(alert.id), action_ts="1700000000.000001")
        await slack.drain()
    await alert.refresh_from_db()
    requests = await AuditLog.filter(action="alert.escalation_requested", target_id=str(alert.id))
    assert len(requests) == 1


async def test_view_full_shows_the_whole_entry(slack: SlackKit) -> None:
    alert = await _resolved_alert(slack)
    await slack.click("create_incident_modal", str(alert.id))
    await slack.submit(
        slack.fake.views[0].view,
        _form(title="Pod CrashLoopBackOff", root_cause="OOM", solution="Raise the limit."),
    )
    answer = await slack.answer("search crashloop")
    entry = answer["blocks"][1]["accessory"]["value"]
    await slack.click("view_knowledge", entry)
    await slack.drain()
    [full] = slack.fake.responses[slack.last_response_url]
    assert full["response_type"] == "ephemeral"
    assert "*Root cause:* OOM" in full["text"]
    assert "*Solution:* Raise the limit." in full["text"]


async def test_view_runbook_is_a_link_and_its_click_changes_nothing(slack: SlackKit) -> None:
    alert = await _resolved_alert(slack)
    calls = len(slack.fake.calls)
    response = await slack.click("view_runbook", None)
    assert response.status_code == 200
    assert response.content == b""
    await slack.drain()
    assert slack.fake.responses[slack.last_response_url] == []
    assert len(slack.fake.calls) == calls
    await alert.refresh_from_db()
    assert alert.status is AlertStatus.RESOLVED
