"""The knowledge-entry modal: opened pre-filled from an alert ("Add to Knowledge
Base") or from a draft logged by DM ("Edit"), and read back on submission.

Validation errors go back into the modal (``response_action: errors``), keyed by
the block of the field at fault, so the responder fixes them where they typed.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    InputBlock,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from opswatch.knowledge.entries import EntrySpec, rule_of_alert
from opswatch.models import Alert, Incident, IncidentSource, IncidentStatus, Severity

NEW_ENTRY = "kb_entry"  # callback_id: create from an alert
EDIT_ENTRY = "kb_edit"  # callback_id: edit a draft
TITLE_MAX = 24
INPUT_MAX = 3000

# block_id -> the field name InvalidInput reports for it
FIELDS = {
    "title": "title",
    "severity": "severity",
    "tags": "tags",
    "match_rule": "matchRule",
    "root_cause": "rootCause",
    "solution": "solution",
}
BLOCK_OF_FIELD = {name: block for block, name in FIELDS.items()}


def _text_input(
    block_id: str,
    label: str,
    initial: str | None,
    *,
    multiline: bool = False,
    optional: bool = False,
    hint: str | None = None,
    max_length: int = INPUT_MAX,
) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=PlainTextObject(text=label),
        optional=optional,
        hint=PlainTextObject(text=hint) if hint else None,
        element=PlainTextInputElement(
            action_id="value",
            multiline=multiline,
            max_length=max_length,
            initial_value=(initial or "")[:max_length] or None,
        ),
    )


def _severity_select(initial: Severity) -> InputBlock:
    options = [Option(value=s.value, text=s.value.capitalize()) for s in Severity]
    return InputBlock(
        block_id="severity",
        label=PlainTextObject(text="Severity"),
        element=StaticSelectElement(
            action_id="value",
            options=options,
            initial_option=next(o for o in options if o.value == initial.value),
        ),
    )


def _form(
    *,
    title: str,
    severity: Severity,
    tags: str,
    rule: str,
    root_cause: str | None,
    solution: str | None,
) -> list[InputBlock]:
    return [
        _text_input("title", "Title", title, max_length=500),
        _severity_select(severity),
        _text_input("tags", "Service and tags", tags, optional=True, hint="Comma-separated."),
        _text_input(
            "match_rule",
            "Matches alerts with",
            rule,
            optional=True,
            hint="label=value pairs, e.g. alertname=PodCrashLoopBackOff, namespace=customer-api. "
            "Future alerts that match show this entry as their Known Solution.",
        ),
        _text_input("root_cause", "Root cause", root_cause, multiline=True, optional=True),
        _text_input("solution", "Solution", solution, multiline=True),
    ]


def entry_from_alert(alert: Alert, service: str | None) -> dict[str, Any]:
    """The modal for "Add to Knowledge Base", filled from the alert."""
    labels = alert.labels or {}
    tags = [service] if service else []
    tags += [labels[k] for k in ("cluster", "namespace") if labels.get(k)]
    blocks = _form(
        title=alert.title,
        severity=alert.severity,
        tags=", ".join(dict.fromkeys(tags)),
        rule=rule_of_alert(alert),
        root_cause=None,
        solution=alert.resolution_notes,
    )
    return _view(NEW_ENTRY, str(alert.id), "Add to knowledge base", blocks)


def entry_from_draft(incident: Incident) -> dict[str, Any]:
    """The modal for "Edit" on a draft logged by DM."""
    rule = incident.match_rule or {}
    terms = [f"alertname={rule['alertname']}"] if rule.get("alertname") else []
    terms += [f"{k}={v}" for k, v in (rule.get("labels") or {}).items()]
    blocks = _form(
        title=incident.title,
        severity=incident.severity,
        tags=", ".join(incident.tags or []),
        rule=", ".join(terms),
        root_cause=incident.root_cause,
        solution=incident.solution or incident.summary,
    )
    return _view(EDIT_ENTRY, str(incident.id), "Edit knowledge entry", blocks)


def _view(callback_id: str, metadata: str, title: str, blocks: list[InputBlock]) -> dict[str, Any]:
    view = View(
        type="modal",
        callback_id=callback_id,
        private_metadata=metadata,
        title=PlainTextObject(text=title[:TITLE_MAX]),
        submit=PlainTextObject(text="Save"),
        close=PlainTextObject(text="Cancel"),
        blocks=blocks,
    )
    result: dict[str, Any] = view.to_dict()
    return result


def submitted(view: dict[str, Any], *, source: IncidentSource) -> EntrySpec:
    """The entry a submitted modal describes (checked later, by the entry itself)."""
    values = view.get("state", {}).get("values", {})

    def text(block: str) -> str:
        element = values.get(block, {}).get("value", {})
        return str(element.get("value") or "")

    severity = (values.get("severity", {}).get("value", {}).get("selected_option") or {}).get(
        "value", "warning"
    )
    tags = [t.strip() for t in text("tags").split(",") if t.strip()]
    return EntrySpec(
        title=text("title"),
        severity=str(severity),
        root_cause=text("root_cause") or None,
        solution=text("solution") or None,
        tags=tags,
        match_rule=text("match_rule") or None,
        status=IncidentStatus.RESOLVED,
        source=source,
    )


def errors_for(field: str | None, message: str) -> dict[str, Any]:
    """The ``response_action: errors`` answer for a field InvalidInput named."""
    block = BLOCK_OF_FIELD.get(field or "", "title")
    return {"response_action": "errors", "errors": {block: message}}
