"""Turning webhook bodies (Alertmanager, Keep, generic, agent) into normalised events.

Pure functions: no database, no I/O. A body is accepted whole or rejected whole
with InvalidInput naming the offending field, like ``alerts[3].labels`` or
``[2].title``. Every field of an accepted event is bounded (see ``bounds``), so
that whatever is accepted can be stored. A severity word must be one the
built-in table or the tenant's mapping knows (``severity_words``): one unknown
word refuses the whole body, and the sender retries once its config is fixed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from opswatch.alerts.bounds import (
    MAX_AGENT_NAME,
    MAX_AGENT_TEXT,
    MAX_ANNOTATION_VALUE,
    MAX_BATCH,
    MAX_DESCRIPTION,
    MAX_FINGERPRINT,
    MAX_GROUP_KEY,
    MAX_LABEL_KEY,
    MAX_LABEL_VALUE,
    MAX_SOURCE,
    MAX_TITLE,
    cut,
    link,
)
from opswatch.alerts.severity_words import checked as checked_severity
from opswatch.alerts.severity_words import map_severity as map_severity
from opswatch.errors import InvalidInput
from opswatch.models.enums import AlertSourceFormat, AlertStatus

FINGERPRINT_LENGTH = 32

_ALERTMANAGER_STATUSES = {"firing": AlertStatus.FIRING, "resolved": AlertStatus.RESOLVED}

_GENERIC_STATUSES = {**_ALERTMANAGER_STATUSES, "acknowledged": AlertStatus.ACKNOWLEDGED}

# None: Keep reports the alert, but it must not page anyone.
_KEEP_STATUSES: dict[str, AlertStatus | None] = {
    **_GENERIC_STATUSES,
    "suppressed": None,
    "pending": None,
    "maintenance": None,
}

# The fields of a generic alert, which a key's field map may fill from the sender's paths.
GENERIC_FIELDS = (
    "title",
    "description",
    "severity",
    "status",
    "source",
    "labels",
    "fingerprint",
    "runbook_url",
    "agent_metadata",
)
NO_MAPPING: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class NormalizedEvent:
    source_format: AlertSourceFormat
    fingerprint: str
    status: AlertStatus | None  # None: recorded, but not turned into an alert
    title: str
    description: str
    severity_label: str | None  # as sent (lower-cased, stripped); mapped at enrichment
    source: str
    labels: dict[str, str]
    annotations: dict[str, str]
    runbook_url: str | None
    starts_at: datetime | None
    ends_at: datetime | None
    group_key: str | None = None
    generator_url: str | None = None
    external_url: str | None = None
    agent_metadata: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        # Shallow on purpose: asdict() deep-copies every label, once per event on
        # the webhook's path, only for the copy to be serialised and dropped.
        data = {name: getattr(self, name) for name in _EVENT_FIELDS}
        data["source_format"] = self.source_format.value
        data["status"] = self.status.value if self.status else None
        data["starts_at"] = _iso(self.starts_at)
        data["ends_at"] = _iso(self.ends_at)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NormalizedEvent:
        status = data["status"]
        return cls(
            **{
                **data,
                "source_format": AlertSourceFormat(data["source_format"]),
                "status": AlertStatus(status) if status is not None else None,
                "starts_at": _from_iso(data["starts_at"]),
                "ends_at": _from_iso(data["ends_at"]),
            }
        )


_EVENT_FIELDS = tuple(field.name for field in fields(NormalizedEvent))


def fingerprint_of(*parts: str, labels: Mapping[str, str]) -> str:
    """A dedup key for senders that give none: the same alert sent twice gets the same key.

    JSON keeps the parts apart, so ("a,b", "c") and ("a", "b,c") never collide.
    """
    canonical = json.dumps(
        [list(parts), sorted(labels.items())], ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:FINGERPRINT_LENGTH]


def parse_alertmanager(
    body: Any, *, severity_mapping: Mapping[str, str] = NO_MAPPING
) -> list[NormalizedEvent]:
    """Alertmanager webhook v4: one event per entry of ``alerts``."""
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object", field="body")
    alerts = body.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        raise InvalidInput("alerts must be a non-empty array", field="alerts")
    if len(alerts) > MAX_BATCH:
        # Alertmanager's webhook_config has max_alerts for this (the README says so).
        raise InvalidInput(f"alerts must hold at most {MAX_BATCH} alerts", field="alerts")
    group_key = _bounded_text(body.get("groupKey"), "groupKey", MAX_GROUP_KEY)
    external_url = link(_optional_text(body.get("externalURL"), "externalURL"))
    return [
        _alertmanager_event(
            alert,
            f"alerts[{index}]",
            group_key=group_key,
            external_url=external_url,
            severity_mapping=severity_mapping,
        )
        for index, alert in enumerate(alerts)
    ]


def parse_keep(
    body: Any, *, severity_mapping: Mapping[str, str] = NO_MAPPING
) -> list[NormalizedEvent]:
    """Keep's alert format: one alert object, or an array of them."""
    return [_keep_event(item, prefix, severity_mapping) for prefix, item in _batch(body)]


def parse_generic(
    body: Any, field_map: Mapping[str, str], *, severity_mapping: Mapping[str, str] = NO_MAPPING
) -> list[NormalizedEvent]:
    """Generic JSON (one object or an array), after the API key's field map; an object
    with ``agent_metadata`` is an agent alert."""
    return [
        _generic_event(item, prefix, field_map, severity_mapping) for prefix, item in _batch(body)
    ]


def _alertmanager_event(
    alert: Any,
    at: str,
    *,
    group_key: str | None,
    external_url: str | None,
    severity_mapping: Mapping[str, str],
) -> NormalizedEvent:
    if not isinstance(alert, dict):
        raise InvalidInput(f"{at} must be an object", field=at)
    status = _choice(alert.get("status"), f"{at}.status", _ALERTMANAGER_STATUSES)
    if not isinstance(alert.get("labels"), dict):
        raise InvalidInput(f"{at}.labels is required and must be an object", field=f"{at}.labels")
    labels = _string_map(alert["labels"], f"{at}.labels", MAX_LABEL_VALUE)
    annotations = _string_map(alert.get("annotations"), f"{at}.annotations", MAX_ANNOTATION_VALUE)
    title = annotations.get("summary", "").strip() or labels.get("alertname")
    fingerprint = _given_fingerprint(alert.get("fingerprint"), f"{at}.fingerprint")
    return NormalizedEvent(
        source_format=AlertSourceFormat.ALERTMANAGER,
        fingerprint=fingerprint or fingerprint_of(labels=labels),
        status=status,
        title=_title(title, f"{at}.labels.alertname"),
        description=cut(annotations.get("description", ""), MAX_DESCRIPTION),
        severity_label=checked_severity(
            _label(labels.get("severity")), f"{at}.labels.severity", severity_mapping
        ),
        source="alertmanager",
        labels=labels,
        annotations=annotations,
        runbook_url=link(annotations.get("runbook_url")) or link(annotations.get("runbook")),
        starts_at=_timestamp(alert.get("startsAt"), f"{at}.startsAt"),
        ends_at=_timestamp(alert.get("endsAt"), f"{at}.endsAt"),
        group_key=group_key,
        generator_url=link(_optional_text(alert.get("generatorURL"), f"{at}.generatorURL")),
        external_url=external_url,
    )


def _keep_event(
    item: dict[str, Any], prefix: str, severity_mapping: Mapping[str, str]
) -> NormalizedEvent:
    title = _title(item.get("name"), f"{prefix}name")
    labels = _string_map(item.get("labels"), f"{prefix}labels", MAX_LABEL_VALUE)
    keep_id = _scalar_text(item.get("id"), f"{prefix}id")
    fingerprint = _given_fingerprint(item.get("fingerprint"), f"{prefix}fingerprint")
    generator_field = "url" if item.get("url") is not None else "generatorURL"
    return NormalizedEvent(
        source_format=AlertSourceFormat.KEEP,
        fingerprint=fingerprint or fingerprint_of(title, labels=labels),
        status=_choice(item.get("status"), f"{prefix}status", _KEEP_STATUSES, default="firing"),
        title=title,
        description=_description(item.get("description"), f"{prefix}description"),
        severity_label=checked_severity(
            _label(_optional_text(item.get("severity"), f"{prefix}severity")),
            f"{prefix}severity",
            severity_mapping,
        ),
        source=_source(item.get("source"), f"{prefix}source", default="keep"),
        labels=labels,
        annotations={"keep_id": cut(keep_id, MAX_LABEL_VALUE)} if keep_id is not None else {},
        runbook_url=None,
        starts_at=_keep_started(item, prefix),
        ends_at=None,
        generator_url=link(_optional_text(item.get(generator_field), f"{prefix}{generator_field}")),
    )


def _keep_started(item: dict[str, Any], prefix: str) -> datetime | None:
    """Keep's own start time when it has one; otherwise when it last saw the alert."""
    for key in ("startedAt", "firingStartTime", "lastReceived"):
        if item.get(key):
            return _timestamp(item[key], f"{prefix}{key}")
    return None


def _generic_event(
    sent: dict[str, Any],
    prefix: str,
    field_map: Mapping[str, str],
    severity_mapping: Mapping[str, str],
) -> NormalizedEvent:
    item = _apply_field_map(sent, field_map)
    severity_field = prefix + _sent_as(sent, field_map, "severity")
    title = _title(item.get("title"), f"{prefix}title")
    labels = _string_map(item.get("labels"), f"{prefix}labels", MAX_LABEL_VALUE)
    source = _source(item.get("source"), f"{prefix}source", default="generic")
    status = _choice(item.get("status"), f"{prefix}status", _GENERIC_STATUSES, default="firing")
    agent = _agent_metadata(item.get("agent_metadata"), f"{prefix}agent_metadata")
    if agent is not None and agent["auto_resolved"]:
        status = AlertStatus.RESOLVED
    fingerprint = _given_fingerprint(item.get("fingerprint"), f"{prefix}fingerprint")
    return NormalizedEvent(
        source_format=AlertSourceFormat.GENERIC if agent is None else AlertSourceFormat.AGENT,
        fingerprint=fingerprint or fingerprint_of(source, title, labels=labels),
        status=status,
        title=title,
        description=_description(item.get("description"), f"{prefix}description"),
        severity_label=checked_severity(
            _label(_scalar_text(item.get("severity"), severity_field)),
            severity_field,
            severity_mapping,
        ),
        source=source,
        labels=labels,
        annotations={},
        runbook_url=link(_optional_text(item.get("runbook_url"), f"{prefix}runbook_url")),
        starts_at=None,
        ends_at=None,
        agent_metadata=agent,
    )


def _agent_metadata(value: Any, field: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidInput(f"{field} must be an object", field=field)
    auto_resolved = value.get("auto_resolved", False)
    if not isinstance(auto_resolved, bool):
        raise InvalidInput(
            f"{field}.auto_resolved must be true or false", field=f"{field}.auto_resolved"
        )
    metadata: dict[str, Any] = {"auto_resolved": auto_resolved}
    for key, limit in _AGENT_TEXTS.items():
        text = _bounded_text(value.get(key), f"{field}.{key}", limit)
        if text is not None:
            metadata[key] = text
    confidence = _confidence(value.get("confidence"), f"{field}.confidence")
    if confidence is not None:
        metadata["confidence"] = confidence
    return metadata


_AGENT_TEXTS = {
    "agent_id": MAX_AGENT_NAME,
    "action_taken": MAX_AGENT_TEXT,
    "action_result": MAX_AGENT_NAME,
}


def _confidence(value: Any, field: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise InvalidInput(f"{field} must be a number from 0 to 1", field=field)
    return float(value)


def _apply_field_map(item: dict[str, Any], field_map: Mapping[str, str]) -> dict[str, Any]:
    """Our field names filled from the sender's paths; a path that is missing (or null)
    leaves whatever the sender put under our own name."""
    mapped = dict(item)
    for ours, path in field_map.items():
        value = _lookup(item, path)
        if value is not None:
            mapped[ours] = value
    return mapped


def _sent_as(sent: dict[str, Any], field_map: Mapping[str, str], ours: str) -> str:
    """Where in the sender's JSON our field came from, so an error names what it sent."""
    path = field_map.get(ours)
    return path if path and _lookup(sent, path) is not None else ours


def _lookup(document: Any, path: str) -> Any:
    current = document
    for segment in path.split("."):
        if isinstance(current, dict):
            current = current.get(segment)
        elif isinstance(current, list) and segment.isascii() and segment.isdigit():
            index = int(segment)
            current = current[index] if index < len(current) else None
        else:
            return None
    return current


def _batch(body: Any) -> list[tuple[str, dict[str, Any]]]:
    """Each object of a one-object-or-array body, with the prefix its field paths get."""
    if isinstance(body, dict):
        return [("", body)]
    if not isinstance(body, list):
        raise InvalidInput("the body must be a JSON object or an array of them", field="body")
    if not body or len(body) > MAX_BATCH:
        raise InvalidInput(f"the array must hold 1 to {MAX_BATCH} alerts", field="body")
    for index, item in enumerate(body):
        if not isinstance(item, dict):
            raise InvalidInput(f"[{index}] must be an object", field=f"[{index}]")
    return [(f"[{index}].", item) for index, item in enumerate(body)]


def _choice(
    value: Any,
    field: str,
    choices: Mapping[str, AlertStatus | None],
    *,
    default: str | None = None,
) -> AlertStatus | None:
    key = value if value is not None else default
    if not isinstance(key, str) or key.strip().lower() not in choices:
        raise InvalidInput(f"{field} must be one of {', '.join(choices)}", field=field)
    return choices[key.strip().lower()]


def _title(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{field} is required and must be a non-empty string", field=field)
    return cut(value.strip(), MAX_TITLE)


def _description(value: Any, field: str) -> str:
    return _bounded_text(value, field, MAX_DESCRIPTION) or ""


def _bounded_text(value: Any, field: str, limit: int) -> str | None:
    text = _optional_text(value, field)
    return cut(text, limit) if text is not None else None


def _given_fingerprint(value: Any, field: str) -> str | None:
    """The sender's fingerprint; None (derive one) when it is absent or blank."""
    text = (_optional_text(value, field) or "").strip()
    if len(text) > MAX_FINGERPRINT:
        raise InvalidInput(f"{field} must be at most {MAX_FINGERPRINT} characters", field=field)
    return text or None


def _source(value: Any, field: str, *, default: str) -> str:
    if isinstance(value, list):
        if not all(isinstance(part, str) for part in value):
            raise InvalidInput(f"{field} must be a string or an array of strings", field=field)
        value = ",".join(part.strip() for part in value if part.strip())
    return cut((_optional_text(value, field) or "").strip(), MAX_SOURCE) or default


def _label(value: str | None) -> str | None:
    return (value or "").strip().lower() or None


def _optional_text(value: Any, field: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise InvalidInput(f"{field} must be a string", field=field)


def _scalar_text(value: Any, field: str) -> str | None:
    """Strings as they are, numbers and booleans as text: senders template these loosely."""
    if isinstance(value, bool | int | float):
        return str(value)
    return _optional_text(value, field)


def _string_map(value: Any, field: str, limit: int) -> dict[str, str]:
    """An object of text values, each cut to ``limit`` (keys to MAX_LABEL_KEY); null
    values are dropped, nested values rejected."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"{field} must be an object", field=field)
    texts = {key: _scalar_text(item, f"{field}.{key}") for key, item in value.items()}
    return {
        cut(key, MAX_LABEL_KEY): cut(text, limit) for key, text in texts.items() if text is not None
    }


def _timestamp(value: Any, field: str) -> datetime | None:
    """RFC 3339 to aware UTC. Go's zero time (year 1) means "not set": a firing alert's
    ``endsAt``. A timestamp without an offset is taken as UTC."""
    text = _optional_text(value, field)
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.year == 1:
            return None
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidInput(f"{field} is not an RFC 3339 timestamp", field=field) from None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _from_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
