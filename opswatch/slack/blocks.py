"""Block Kit layouts, built with the SDK's models so Slack's limits are checked
before anything is sent. Every text is clipped to its limit: a long alert
title becomes "…", never a rejected message (and a silent channel).

The alert message and the resolution prompt are the spec's layouts (1.3, 1.4),
block for block; what the spec does not show (the state line once someone has
acted, the agent summary, command answers) follows the same style.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from opswatch.models import AlertStatus, Severity

# Slack's documented limits.
HEADER_MAX = 150
SECTION_MAX = 3000
FIELD_MAX = 2000
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
URL_MAX = 3000
CONTEXT_ELEMENTS_MAX = 10
MESSAGE_BLOCKS_MAX = 50
FALLBACK_TEXT_MAX = 3000  # the notification text; Slack's own cap is far higher

SEVERITY_EMOJI = {
    Severity.CRITICAL: "🔴",
    Severity.HIGH: "🟠",
    Severity.WARNING: "🟡",
    Severity.LOW: "🔵",
    Severity.INFO: "⚪",
}

ACK_ACTION = "ack_alert"
RUNBOOK_ACTION = "view_runbook"
ESCALATE_ACTION = "escalate_alert"
ADD_TO_KB_ACTION = "create_incident_modal"
SKIP_KB_ACTION = "skip_kb_entry"
VIEW_KNOWLEDGE_ACTION = "view_knowledge"
EDIT_INCIDENT_ACTION = "edit_incident"


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escape(text: str) -> str:
    """mrkdwn treats &, < and > as control characters (links, mentions)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mention(slack_user_id: str | None, name: str | None) -> str:
    """``<@U123> (Stefan)`` as in the spec; just the name when Slack does not know them."""
    if slack_user_id and name:
        return f"<@{slack_user_id}> ({escape(name)})"
    if slack_user_id:
        return f"<@{slack_user_id}>"
    return escape(name) if name else "nobody"


@dataclass(frozen=True)
class Person:
    name: str | None
    slack_user_id: str | None

    def mention(self) -> str:
        return mention(self.slack_user_id, self.name)


@dataclass(frozen=True)
class AlertCard:
    """What the alert message shows, read from the alert and its neighbours."""

    alert_id: str
    short_id: str
    title: str
    severity: Severity
    status: AlertStatus
    cluster: str | None
    namespace: str | None
    service: str | None
    oncall: Person | None
    known_solution: str | None
    runbook_url: str | None
    acknowledged_by: Person | None = None
    acknowledged_at: str | None = None  # already formatted
    resolved_by: Person | None = None
    resolved_at: str | None = None
    resolution_notes: str | None = None
    escalation_note: str | None = None  # "Escalated to tier 2", when it was


def headline(card: AlertCard) -> str:
    return f"{SEVERITY_EMOJI[card.severity]} {card.severity.value.upper()}: {card.title}"


def alert_message(card: AlertCard) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks): the spec's layout, plus a state line once acted on."""
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=clip(headline(card), HEADER_MAX))),
        SectionBlock(
            fields=[
                _field("Cluster", escape(card.cluster or "—")),
                _field("Namespace", escape(card.namespace or "—")),
                _field("Service", escape(card.service or "—")),
                _field("On-Call", card.oncall.mention() if card.oncall else "nobody"),
            ]
        ),
    ]
    if card.known_solution:
        text = f"💡 *Known Solution:* {escape(card.known_solution)}"
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(text, SECTION_MAX))))
    buttons = _alert_buttons(card)
    if buttons:
        blocks.append(ActionsBlock(elements=buttons))
    state = _state_lines(card)
    if state:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=line) for line in state]))
    fallback = f"{headline(card)} (alert {card.short_id}, {card.status.value})"
    return clip(fallback, FALLBACK_TEXT_MAX), [b.to_dict() for b in blocks]


def _field(label: str, value: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=clip(f"*{label}:* {value}", FIELD_MAX))


def button(
    text: str,
    action_id: str,
    *,
    value: str | None = None,
    url: str | None = None,
    style: str | None = None,
) -> ButtonElement:
    return ButtonElement(
        text=PlainTextObject(text=clip(text, BUTTON_TEXT_MAX)),
        action_id=action_id,
        value=value[:BUTTON_VALUE_MAX] if value is not None else None,
        url=url,
        style=style,
    )


def _alert_buttons(card: AlertCard) -> list[ButtonElement]:
    """Acknowledge while firing, Escalate until resolved, the runbook whenever known."""
    buttons = []
    if card.status is AlertStatus.FIRING:
        buttons.append(button("✅ Acknowledge", ACK_ACTION, value=card.alert_id))
    if card.runbook_url and len(card.runbook_url) <= URL_MAX:
        buttons.append(button("📋 View Runbook", RUNBOOK_ACTION, url=card.runbook_url))
    if card.status is not AlertStatus.RESOLVED:
        buttons.append(button("🔼 Escalate", ESCALATE_ACTION, value=card.alert_id, style="danger"))
    return buttons


def _state_lines(card: AlertCard) -> list[str]:
    lines = []
    if card.escalation_note and card.status is not AlertStatus.RESOLVED:
        lines.append(f"🔼 {escape(card.escalation_note)}")
    if card.acknowledged_by is not None or card.acknowledged_at:
        who = card.acknowledged_by.mention() if card.acknowledged_by else "its source"
        lines.append(f"✅ Acknowledged by {who}" + _at(card.acknowledged_at))
    if card.status is AlertStatus.RESOLVED:
        who = card.resolved_by.mention() if card.resolved_by else "its source"
        line = f"✔️ Resolved by {who}" + _at(card.resolved_at)
        if card.resolution_notes:
            line += f": {escape(card.resolution_notes)}"
        lines.append(clip(line, SECTION_MAX))
    return lines[:CONTEXT_ELEMENTS_MAX]


def _at(when: str | None) -> str:
    return f" at {when}" if when else ""


def thread_update(card: AlertCard, change: str) -> str:
    """One line in the alert's thread for what just happened."""
    if change == "acknowledged":
        who = card.acknowledged_by.mention() if card.acknowledged_by else "its source"
        return f"✅ Acknowledged by {who}."
    if change == "resolved":
        who = card.resolved_by.mention() if card.resolved_by else "its source"
        notes = f" Notes: {escape(card.resolution_notes)}" if card.resolution_notes else ""
        return clip(f"✔️ Resolved by {who}.{notes}", SECTION_MAX)
    if change == "escalated":
        return f"🔼 {escape(card.escalation_note or 'Escalated')}."
    return escape(change)


def resolution_prompt(title: str, alert_id: str, resolved_by: str) -> list[dict[str, Any]]:
    """Spec 1.4: a resolved alert that no knowledge entry matched."""
    text = (
        f"✅ Alert *{escape(title)}* resolved by {resolved_by}.\n\n"
        "This looks like a *new issue* not in the knowledge base."
    )
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=clip(text, SECTION_MAX))),
        ActionsBlock(
            elements=[
                button("📝 Add to Knowledge Base", ADD_TO_KB_ACTION, value=alert_id),
                button("Skip", SKIP_KB_ACTION, value=alert_id),
            ]
        ),
    ]
    return [b.to_dict() for b in blocks]


def prompt_closed(text: str) -> list[dict[str, Any]]:
    """What the resolution prompt becomes once answered: no buttons left to press twice."""
    return [SectionBlock(text=MarkdownTextObject(text=clip(text, SECTION_MAX))).to_dict()]


def agent_summary(
    *, title: str, severity: Severity, agent: dict[str, Any], short_id: str
) -> tuple[str, list[dict[str, Any]]]:
    """Spec 2.4: an agent fixed it. Informational: no buttons, nobody paged."""
    agent_id = str(agent.get("agent_id") or "An agent")
    action = str(agent.get("action_taken") or "no action recorded")
    details = [f"result: {agent.get('action_result') or 'unknown'}"]
    confidence = agent.get("confidence")
    if isinstance(confidence, int | float) and 0 <= confidence <= 1:
        details.append(f"confidence {round(confidence * 100)}%")
    text = (
        f"🤖 *{escape(agent_id)}* resolved *{escape(title)}* automatically.\n"
        f"*Action taken:* {escape(action)}"
    )
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=clip(text, SECTION_MAX))),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"{SEVERITY_EMOJI[severity]} {severity.value} · alert {short_id} · "
                    + " · ".join(details)
                    + " · saved to the knowledge base · nobody was paged"
                )
            ]
        ),
    ]
    fallback = f"{agent_id} resolved {title} automatically: {action}"
    return clip(fallback, FALLBACK_TEXT_MAX), [b.to_dict() for b in blocks]


def text_blocks(lines: Sequence[str]) -> list[dict[str, Any]]:
    """Plain answers (usage, confirmations) as sections, within the block limit."""
    return [
        SectionBlock(text=MarkdownTextObject(text=clip(line, SECTION_MAX))).to_dict()
        for line in lines[:MESSAGE_BLOCKS_MAX]
    ]


def knowledge_results(
    results: Sequence[tuple[str, str, str, str]], query: str
) -> list[dict[str, Any]]:
    """``/opswatch search``: per result (title, severity, preview, entry) a section with a
    View Full button that shows the whole entry."""
    if not results:
        return text_blocks([f"No knowledge found for *{escape(query)}*."])
    blocks: list[Block] = [
        SectionBlock(
            text=MarkdownTextObject(text=clip(f"🔎 Knowledge for *{escape(query)}*", SECTION_MAX))
        )
    ]
    for title, severity, preview, entry in results:
        text = f"*{escape(title)}* ({escape(severity)})\n{preview}"
        view_full = button("View Full", VIEW_KNOWLEDGE_ACTION, value=entry)
        blocks.append(
            SectionBlock(text=MarkdownTextObject(text=clip(text, SECTION_MAX)), accessory=view_full)
        )
    return [b.to_dict() for b in blocks]
