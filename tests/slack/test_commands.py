"""``/opswatch`` as spec 1.2 describes it, over signed requests; forged and
replayed signatures change nothing."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from opswatch.audit.actor import Actor
from opswatch.knowledge.entries import EntrySpec, create_entry
from opswatch.models import Alert, AlertStatus, AuditLog
from opswatch.rosters.overrides import create_override
from opswatch.rosters.rosters import RosterSpec, create_roster
from opswatch.tenants.users import create_user
from tests.slack.support import ADMIN_SLACK, STRANGER_SLACK, VIEWER_SLACK, SlackKit

ACTOR = Actor.system("test")


async def _alert(slack: SlackKit, title: str = "Disk full on db-1") -> Alert:
    response = await slack.http.post(
        "/api/v1/webhooks/generic",
        json={"title": title, "severity": "critical", "fingerprint": title},
        headers={"X-API-Key": slack.kit.api_key},
    )
    assert response.status_code == 202, response.text
    await slack.drain()
    return await Alert.get(tenant=slack.tenant, fingerprint=title)


async def test_help_and_unknown_subcommands_answer_with_usage(slack: SlackKit) -> None:
    for text in ("", "help"):
        answer = await slack.answer(text)
        assert answer["response_type"] == "ephemeral"
        assert "/opswatch search <query>" in answer["text"]
    answer = await slack.answer("frobnicate now")
    assert answer["text"].startswith("I don't know `frobnicate`.")
    assert "/opswatch roster [roster]" in answer["text"]


async def test_ack_acknowledges_as_the_slack_user(slack: SlackKit) -> None:
    alert = await _alert(slack)
    answer = await slack.answer(f"ack {alert.short_id}")
    assert answer == {
        "response_type": "ephemeral",
        "text": f"✅ You acknowledged alert `{alert.short_id}` *Disk full on db-1*.",
        "blocks": answer["blocks"],
        "replace_original": False,
    }
    await alert.refresh_from_db()
    assert alert.status is AlertStatus.ACKNOWLEDGED
    assert alert.acknowledged_by_id == slack.admin.id  # type: ignore[attr-defined]
    entry = await AuditLog.get(action="alert.acknowledged", target_id=str(alert.id))
    assert (entry.actor_id, entry.source) == (str(slack.admin.id), "slack")
    again = await slack.answer(f"ack {alert.short_id}")
    assert "was already acknowledged" in again["text"]


async def test_unknown_alert_ids_and_people_are_told_so(slack: SlackKit) -> None:
    answer = await slack.answer("ack zzz999")
    assert answer["text"] == "⚠️ no alert 'zzz999'"
    alert = await _alert(slack)
    stranger = await slack.answer(f"ack {alert.short_id}", user=STRANGER_SLACK)
    assert "can't match your Slack account" in stranger["text"]
    viewer = await slack.answer(f"resolve {alert.short_id}", user=VIEWER_SLACK)
    assert "Viewers can't change alerts" in viewer["text"]
    await alert.refresh_from_db()
    assert alert.status is AlertStatus.FIRING


async def test_resolve_with_notes_prompts_for_the_knowledge_base(slack: SlackKit) -> None:
    alert = await _alert(slack)
    answer = await slack.answer(f"resolve {alert.short_id} freed 20 GB of WAL")
    await alert.refresh_from_db()
    assert alert.status is AlertStatus.RESOLVED
    assert alert.resolution_notes == "freed 20 GB of WAL"
    buttons = [
        e["action_id"] for b in answer["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert buttons == ["create_incident_modal", "skip_kb_entry"]
    assert "This looks like a *new issue*" in answer["blocks"][1]["text"]["text"]


async def test_oncall_lists_each_roster_with_zone_local_time_and_shift_end(slack: SlackKit) -> None:
    stefan = await create_user(
        tenant=slack.tenant,
        name="Stefan",
        email="stefan@acme.example",
        timezone="Europe/Berlin",
        actor=ACTOR,
        with_token=False,
    )
    slack.fake.add_user("T0ACME", "U0STEFAN", email="stefan@acme.example", real_name="Stefan")
    await create_roster(
        tenant=slack.tenant,
        actor=ACTOR,
        spec=RosterSpec(name="Global Primary", timezone="Europe/Berlin", rotation_length_days=7),
        member_ids=[str(stefan.user.id)],
    )
    await create_roster(
        tenant=slack.tenant,
        actor=ACTOR,
        spec=RosterSpec(name="Database", timezone="UTC", rotation_length_days=1),
        member_ids=[],
    )
    answer = await slack.answer("oncall")
    lines = answer["text"].splitlines()
    assert lines[0] == "*Database*: nobody is on call"
    assert lines[1].startswith(
        "*Global Primary*: <@U0STEFAN> (Stefan) · Europe/Berlin · local time "
    )
    assert "shift ends " in lines[1]
    assert lines[1].endswith("(Europe/Berlin)")
    only = await slack.answer('oncall "global primary"')
    assert only["text"].startswith("*Global Primary*")
    missing = await slack.answer("oncall payments")
    assert missing["text"] == "No roster is named “payments”. Rosters: Database, Global Primary."


async def test_roster_shows_the_next_seven_days_with_overrides(slack: SlackKit) -> None:
    roster = await create_roster(
        tenant=slack.tenant,
        actor=ACTOR,
        spec=RosterSpec(name="Primary", timezone="UTC", rotation_length_days=1),
        member_ids=[str(slack.admin.id), str(slack.kit.viewer.id)],
    )
    start = datetime.now(UTC) + timedelta(days=2)
    await create_override(
        tenant=slack.tenant,
        roster=roster,
        user_id=str(slack.kit.viewer.id),
        start=start,
        end=start + timedelta(hours=4),
        actor=ACTOR,
    )
    answer = await slack.answer("roster primary")
    lines = answer["text"].splitlines()
    assert lines[0] == "🗓️ *Primary*: next 7 days (UTC)"
    assert lines[1].startswith("• now to ")
    assert any(line.endswith("_(override)_") for line in lines)
    assert any(f"<@{ADMIN_SLACK}>" in line for line in lines)
    assert 8 <= len(lines) <= 12  # seven daily handoffs, the override cutting one shift


async def test_search_returns_the_top_three_with_a_view_full_button(slack: SlackKit) -> None:
    for i, title in enumerate(
        ["Pod CrashLoopBackOff in payments", "Disk full", "CrashLoop after deploy", "OOM kill"]
    ):
        await create_entry(
            tenant=slack.tenant,
            spec=EntrySpec(
                title=title,
                severity="critical" if i == 0 else "warning",
                solution=f"Fix number {i}: raise the memory limit of the crashloop pod",
            ),
            author=None,
            actor=ACTOR,
        )
    answer = await slack.answer("search crashloop")
    sections = answer["blocks"][1:]
    assert len(sections) == 3
    titles = [s["text"]["text"].splitlines()[0] for s in sections]
    # Matched in the title ranks above matched in the solution only; then the newest.
    assert titles[:2] == [
        "*CrashLoop after deploy* (warning)",
        "*Pod CrashLoopBackOff in payments* (critical)",
    ]
    assert "*crashloop*" in sections[0]["text"]["text"]  # the match, highlighted
    assert sections[0]["accessory"]["action_id"] == "view_knowledge"
    assert sections[0]["accessory"]["text"]["text"] == "View Full"
    nothing = await slack.answer("search kafka")
    assert nothing["text"] == "0 knowledge result(s) for kafka"


async def test_forged_and_replayed_requests_are_refused_and_change_nothing(
    slack: SlackKit,
) -> None:
    alert = await _alert(slack)
    form = {"team_id": "T0ACME", "user_id": ADMIN_SLACK, "text": f"ack {alert.short_id}"}
    forged = await slack.post_form("/api/v1/slack/commands", form, secret="not-the-secret")
    assert forged.status_code == 401
    assert forged.json()["error"]["field"] == "X-Slack-Signature"
    replayed = await slack.post_form(
        "/api/v1/slack/commands", form, timestamp=int(time.time()) - 6 * 60
    )
    assert replayed.status_code == 401
    unsigned = await slack.http.post("/api/v1/slack/commands", data=form)
    assert unsigned.status_code == 401
    await slack.drain()
    await alert.refresh_from_db()
    assert alert.status is AlertStatus.FIRING
