"""Writing knowledge entries (incidents with root cause and solution) from people:
the Slack modal, a DM logged as a draft, and (with the knowledge issue) GraphQL.

A matching rule ("alertname=PodCrashLoopBackOff, namespace=customer-api") is what
makes an entry the Known Solution of future alerts; it is checked here, when it
is written, not when an alert arrives.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tortoise.transactions import in_transaction

from opswatch import validation
from opswatch.audit.actor import Actor
from opswatch.audit.log import record
from opswatch.errors import InvalidInput
from opswatch.knowledge import matching
from opswatch.models import (
    Alert,
    Incident,
    IncidentSource,
    IncidentStatus,
    IncidentUpdate,
    Severity,
    Tenant,
    User,
)

MAX_RULE_TERMS = 10
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")


@dataclass(frozen=True)
class EntrySpec:
    title: str
    severity: str
    summary: str = ""
    root_cause: str | None = None
    solution: str | None = None
    tags: list[str] = field(default_factory=list)
    match_rule: str | None = None  # "alertname=X, namespace=Y"
    status: IncidentStatus = IncidentStatus.RESOLVED
    source: IncidentSource = IncidentSource.MANUAL
    alert_id: uuid.UUID | None = None  # the alert it was learnt from


def parse_match_rule(field_name: str, text: str | None) -> dict[str, Any] | None:
    """``alertname=X, namespace=Y`` -> {"alertname": "X", "labels": {"namespace": "Y"}}."""
    if text is None or not text.strip():
        return None
    terms = [t.strip() for t in re.split(r"[,\n]", text) if t.strip()]
    if len(terms) > MAX_RULE_TERMS:
        raise InvalidInput(f"{field_name}: at most {MAX_RULE_TERMS} terms", field=field_name)
    rule: dict[str, Any] = {"labels": {}}
    for term in terms:
        name, equals, value = term.partition("=")
        name, value = name.strip(), value.strip().strip("\"'")
        if not equals or not _LABEL_NAME.match(name) or not value or len(value) > 500:
            raise InvalidInput(
                f"{field_name}: write label=value pairs separated by commas, "
                f"e.g. alertname=PodCrashLoopBackOff, namespace=customer-api (not {term!r})",
                field=field_name,
            )
        if name == "alertname":
            rule["alertname"] = value
        else:
            rule["labels"][name] = value
    return rule


def rule_of_alert(alert: Alert) -> str:
    """The rule an entry learnt from an alert starts with: its name and where it ran."""
    labels = alert.labels or {}
    terms = [f"alertname={labels.get('alertname') or alert.title}"]
    terms += [f"{name}={labels[name]}" for name in ("namespace", "service") if labels.get(name)]
    return ", ".join(terms)


def _severity(value: str) -> Severity:
    try:
        return Severity(value.strip().lower())
    except ValueError:
        raise InvalidInput(
            "severity must be one of critical, high, warning, low, info", field="severity"
        ) from None


def _tags(values: list[str]) -> list[str]:
    return [validation.required_text("tags", t, max_length=64) for t in values[:20]]


def _long_text(field_name: str) -> Callable[[str | None], str | None]:
    return lambda value: validation.optional_text(field_name, value, max_length=20_000)


# How each column an edit may name is checked: one validator per field, shared by
# whole entries (create, the Slack modal) and partial updates, so both store alike.
CHECKS: dict[str, Callable[[Any], Any]] = {
    "title": lambda value: validation.required_text("title", value, max_length=500),
    "severity": _severity,
    "summary": lambda value: _long_text("summary")(value) or "",
    "root_cause": _long_text("rootCause"),
    "solution": _long_text("solution"),
    "tags": _tags,
    "match_rule": lambda value: parse_match_rule("matchRule", value),
    "status": IncidentStatus,
}


def check(spec: EntrySpec) -> dict[str, Any]:
    """The validated columns; InvalidInput names the first bad field."""
    values = {name: validate(getattr(spec, name)) for name, validate in CHECKS.items()}
    values["source"] = spec.source
    return values


async def create_entry(
    *, tenant: Tenant, spec: EntrySpec, author: User | None, actor: Actor
) -> Incident:
    values = check(spec)
    now = datetime.now(UTC)
    async with in_transaction() as connection:
        incident = await Incident.create(
            tenant=tenant,
            commander=author,
            resolved_at=now if values["status"] is IncidentStatus.RESOLVED else None,
            using_db=connection,
            **values,
        )
        await IncidentUpdate.create(
            tenant=tenant,
            incident=incident,
            author=author,
            kind="created",
            text=f"Created from {actor.source}",
            using_db=connection,
        )
        if spec.alert_id is not None:
            await (
                Alert.filter(id=spec.alert_id, tenant=tenant)
                .using_db(connection)
                .update(incident_id=incident.id)
            )
        await record(
            tenant_id=tenant.id,
            actor=actor,
            action="incident.created",
            target_type="incident",
            target_id=incident.id,
            data={
                "title": values["title"],
                "source": values["source"].value,
                "alert_id": str(spec.alert_id) if spec.alert_id else None,
            },
            connection=connection,
        )
    matching.forget(tenant.id)
    return incident


async def update_entry(
    *, incident: Incident, spec: EntrySpec, author: User | None, actor: Actor
) -> Incident:
    """Replace an entry's words (a draft logged by DM becomes a full entry)."""
    changes = {name: getattr(spec, name) for name in CHECKS}
    if not (spec.summary or "").strip():
        del changes["summary"]  # a form without a summary keeps the one written before
    return await change_entry(incident=incident, changes=changes, author=author, actor=actor)


async def change_entry(
    *, incident: Incident, changes: dict[str, Any], author: User | None, actor: Actor
) -> Incident:
    """Change only the columns named in ``changes`` (keys of ``CHECKS``; a nullable one
    given None is cleared). Every change is checked before anything is written.

    What is derived from the row stays current by itself: the search words are indexed
    expressions (PostgreSQL) or kept by triggers (SQLite), and ``config_version``
    moves by trigger when the solution or matching rule changes; the in-process match
    cache is dropped here."""
    unknown = set(changes) - set(CHECKS)
    if unknown:
        raise ValueError(f"not an entry field: {sorted(unknown)}")  # a programming error
    values = {name: CHECKS[name](value) for name, value in changes.items()}
    changed = sorted(k for k, v in values.items() if getattr(incident, k) != v)
    values["updated_at"] = datetime.now(UTC)  # a queryset update does not set it
    if values.get("status") is IncidentStatus.RESOLVED and incident.resolved_at is None:
        values["resolved_at"] = values["updated_at"]
    async with in_transaction() as connection:
        await Incident.filter(id=incident.id).using_db(connection).update(**values)
        await IncidentUpdate.create(
            tenant_id=incident.tenant_id,  # type: ignore[attr-defined]
            incident=incident,
            author=author,
            kind="edited",
            text="Edited: " + (", ".join(changed) or "nothing changed"),
            using_db=connection,
        )
        await record(
            tenant_id=incident.tenant_id,  # type: ignore[attr-defined]
            actor=actor,
            action="incident.updated",
            target_type="incident",
            target_id=incident.id,
            data={"changed": changed},
            connection=connection,
        )
    await incident.refresh_from_db()
    matching.forget(incident.tenant_id)  # type: ignore[attr-defined]
    return incident
