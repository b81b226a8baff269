"""The spec's loop, closed: an alert fires and is resolved as a new issue, the
responder adds it to the knowledge base from Slack, and the next identical alert
arrives with its Known Solution and is found by ``/opswatch search``."""

from __future__ import annotations

from typing import Any

from opswatch.audit.actor import Actor
from opswatch.knowledge.entries import EntrySpec, create_entry
from opswatch.models import Alert, AlertStatus
from tests.slack.support import ALERT_CHANNEL, SlackKit


async def _fire(slack: SlackKit, fingerprint: str) -> Alert:
    response = await slack.http.post(
        "/api/v1/webhooks/generic",
        json={
            "title": "Pod CrashLoopBackOff",
            "severity": "critical",
            "fingerprint": fingerprint,
            "labels": {
                "alertname": "PodCrashLoopBackOff",
                "namespace": "customer-api",
                "pod": f"payment-gateway-{fingerprint}",
            },
        },
        headers={"X-API-Key": slack.kit.api_key},
    )
    assert response.status_code == 202
    await slack.drain()
    return await Alert.get(tenant=slack.tenant, fingerprint=fingerprint)


def _values(**fields: str) -> dict[str, Any]:
    values: dict[str, Any] = {
        block: {"value": {"type": "plain_text_input", "value": text}}
        for block, text in fields.items()
    }
    values["severity"] = {
        "value": {"type": "static_select", "selected_option": {"value": "critical"}}
    }
    return values


async def test_a_new_issue_becomes_the_known_solution_of_the_next_alert(slack: SlackKit) -> None:
    first = await _fire(slack, "one")
    answer = await slack.answer(f"resolve {first.short_id} bumped the memory limit")
    assert any(b["type"] == "actions" for b in answer["blocks"])  # the "new issue" prompt
    await first.refresh_from_db()
    thread = slack.fake.replies_to(ALERT_CHANNEL, first.slack_ts or "")
    assert thread[-1].blocks is not None
    assert thread[-1].blocks[1]["elements"][0]["action_id"] == "create_incident_modal"

    await slack.click("create_incident_modal", str(first.id))
    [modal] = slack.fake.views
    saved = await slack.submit(
        modal.view,
        _values(
            title="Pod CrashLoopBackOff",
            match_rule="alertname=PodCrashLoopBackOff, namespace=customer-api",
            root_cause="OOM kill detected",
            solution="OOM kill detected. Scale memory limit from 256Mi to 512Mi. See runbook.",
        ),
    )
    assert saved.status_code == 200
    await slack.drain()

    second = await _fire(slack, "two")
    assert second.status is AlertStatus.FIRING
    assert second.known_solution_id is not None  # type: ignore[attr-defined]
    message = slack.fake.message(ALERT_CHANNEL, second.slack_ts or "")
    assert message.blocks is not None
    assert message.blocks[2] == {
        "type": "section",
        "text": {
            "type": "mrkdwn",
            "text": "💡 *Known Solution:* OOM kill detected. Scale memory limit from 256Mi "
            "to 512Mi. See runbook.",
        },
    }
    found = await slack.answer("search crashloop")
    assert found["blocks"][1]["text"]["text"].startswith("*Pod CrashLoopBackOff* (critical)")

    # Resolving the second is no new issue: no prompt this time.
    again = await slack.answer(f"resolve {second.short_id}")
    assert all(b["type"] != "actions" for b in again["blocks"])
    await slack.drain()
    replies = slack.fake.replies_to(ALERT_CHANNEL, second.slack_ts or "")
    assert all("new issue" not in (r.text or "") for r in replies)


async def test_a_similar_title_finds_knowledge_without_a_rule(slack: SlackKit) -> None:
    await create_entry(
        tenant=slack.tenant,
        spec=EntrySpec(
            title="pod crashloopbackoff in customer api",
            severity="high",
            solution="Roll back the last deploy of customer-api.",
        ),
        author=None,
        actor=Actor.system("test"),
    )
    response = await slack.http.post(
        "/api/v1/webhooks/generic",
        json={"title": "Pod CrashLoopBackOff customer-api", "fingerprint": "x"},
        headers={"X-API-Key": slack.kit.api_key},
    )
    assert response.status_code == 202
    await slack.drain()
    alert = await Alert.get(tenant=slack.tenant, fingerprint="x")
    assert alert.known_solution_id is not None  # type: ignore[attr-defined]
    unrelated = await slack.http.post(
        "/api/v1/webhooks/generic",
        json={"title": "Disk full on db-1", "fingerprint": "y"},
        headers={"X-API-Key": slack.kit.api_key},
    )
    assert unrelated.status_code == 202
    await slack.drain()
    assert (await Alert.get(fingerprint="y")).known_solution_id is None  # type: ignore[attr-defined]
