from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from opswatch.alerts.normalize import (
    NormalizedEvent,
    fingerprint_of,
    map_severity,
    parse_alertmanager,
    parse_generic,
    parse_keep,
)
from opswatch.errors import InvalidInput
from opswatch.models.enums import AlertSourceFormat, AlertStatus, Severity
from tests.alerts.payloads import SPEC_DESCRIPTION, agent_body, alertmanager_body


def keep_body() -> dict[str, Any]:
    """The example of SPEC-integrations.md 2.2."""
    return {
        "id": "keep-alert-uuid",
        "name": "PodCrashLoopBackOff",
        "status": "firing",
        "severity": "critical",
        "source": ["prometheus", "signoz"],
        "fingerprint": "abc123def456",
        "labels": {"cluster": "production-de-01"},
        "description": "Pod keeps restarting",
        "lastReceived": "2026-02-20T10:00:00Z",
    }


def rejected_field(parse: Any, *args: Any) -> str | None:
    with pytest.raises(InvalidInput) as caught:
        parse(*args)
    return caught.value.field


# Alertmanager


def test_alertmanager_spec_example() -> None:
    [event] = parse_alertmanager(alertmanager_body())

    assert event.source_format is AlertSourceFormat.ALERTMANAGER
    assert event.fingerprint == "abc123def456"
    assert event.status is AlertStatus.FIRING
    assert event.title == "Pod is in CrashLoopBackOff"
    assert event.description == SPEC_DESCRIPTION
    assert event.severity_label == "critical"
    assert event.source == "alertmanager"
    assert event.labels["cluster"] == "production-de-01"
    assert event.labels["namespace"] == "customer-api"
    assert event.annotations["summary"] == "Pod is in CrashLoopBackOff"
    assert event.runbook_url == "https://runbooks.example.com/pod-crashloop"
    assert event.starts_at == datetime(2026, 2, 20, 10, 0, tzinfo=UTC)
    assert event.ends_at is None
    assert event.group_key == '{}:{alertname="PodCrashLoopBackOff"}'
    assert event.external_url == "http://alertmanager.example.com"
    assert event.agent_metadata is None


def test_alertmanager_resolved_alert() -> None:
    body = alertmanager_body()
    alert = body["alerts"][0]
    alert["status"] = "resolved"
    alert["endsAt"] = "2026-02-20T10:15:30.123456789+01:00"
    alert["generatorURL"] = "http://prometheus.example.com/graph"

    [event] = parse_alertmanager(body)

    assert event.status is AlertStatus.RESOLVED
    assert event.ends_at == datetime(2026, 2, 20, 9, 15, 30, 123456, tzinfo=UTC)
    assert event.generator_url == "http://prometheus.example.com/graph"


def test_alertmanager_title_falls_back_to_alertname_and_fingerprint_to_labels() -> None:
    body = alertmanager_body()
    alert = body["alerts"][0]
    del alert["annotations"], alert["fingerprint"]

    [event] = parse_alertmanager(body)

    assert event.title == "PodCrashLoopBackOff"
    assert event.description == ""
    assert event.runbook_url is None
    assert event.fingerprint == fingerprint_of(labels=alert["labels"])


def test_alertmanager_one_event_per_alert_and_unknown_keys_ignored() -> None:
    body = alertmanager_body()
    body["truncatedAlerts"] = 0
    second = {**body["alerts"][0], "fingerprint": "second", "newField": {"x": 1}}
    body["alerts"].append(second)

    events = parse_alertmanager(body)

    assert [e.fingerprint for e in events] == ["abc123def456", "second"]


def test_alertmanager_scalar_values_become_text() -> None:
    body = alertmanager_body()
    body["alerts"][0]["labels"].update({"replicas": 3, "canary": True, "ratio": 0.5})

    [event] = parse_alertmanager(body)

    assert event.labels["replicas"] == "3"
    assert event.labels["canary"] == "True"
    assert event.labels["ratio"] == "0.5"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda a: a.pop("labels"), "alerts[0].labels"),
        (lambda a: a.update(labels=["x"]), "alerts[0].labels"),
        (lambda a: a.update(status="exploded"), "alerts[0].status"),
        (lambda a: a.pop("status"), "alerts[0].status"),
        (lambda a: a.update(startsAt="yesterday"), "alerts[0].startsAt"),
        (lambda a: a.update(endsAt="2026-13-01T00:00:00Z"), "alerts[0].endsAt"),
        (lambda a: a["labels"].update(team={"a": "b"}), "alerts[0].labels.team"),
        (lambda a: a["annotations"].update(links=["x"]), "alerts[0].annotations.links"),
        (lambda a: a.update(fingerprint="f" * 256), "alerts[0].fingerprint"),
    ],
)
def test_alertmanager_rejections_name_the_field(change: Any, field: str) -> None:
    body = alertmanager_body()
    body["alerts"].insert(0, json.loads(json.dumps(body["alerts"][0])))
    change(body["alerts"][0])

    assert rejected_field(parse_alertmanager, body) == field


def test_alertmanager_without_title_names_alertname() -> None:
    body = alertmanager_body()
    alert = body["alerts"][0]
    del alert["annotations"]["summary"], alert["labels"]["alertname"]

    assert rejected_field(parse_alertmanager, body) == "alerts[0].labels.alertname"


@pytest.mark.parametrize(
    ("body", "field"),
    [([], "body"), ("text", "body"), ({}, "alerts"), ({"alerts": []}, "alerts")],
)
def test_alertmanager_rejects_bodies_without_alerts(body: Any, field: str) -> None:
    assert rejected_field(parse_alertmanager, body) == field


# Keep


def test_keep_spec_example() -> None:
    [event] = parse_keep(keep_body())

    assert event.source_format is AlertSourceFormat.KEEP
    assert event.status is AlertStatus.FIRING
    assert event.severity_label == "critical"
    assert event.source == "prometheus,signoz"
    assert event.fingerprint == "abc123def456"
    assert event.title == "PodCrashLoopBackOff"
    assert event.description == "Pod keeps restarting"
    assert event.labels == {"cluster": "production-de-01"}
    assert event.annotations == {"keep_id": "keep-alert-uuid"}
    assert event.starts_at == datetime(2026, 2, 20, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("firing", AlertStatus.FIRING),
        ("resolved", AlertStatus.RESOLVED),
        ("acknowledged", AlertStatus.ACKNOWLEDGED),
        ("suppressed", None),
        ("pending", None),
        ("maintenance", None),
        ("Resolved", AlertStatus.RESOLVED),
    ],
)
def test_keep_status_mapping(status: str, expected: AlertStatus | None) -> None:
    [event] = parse_keep({**keep_body(), "status": status})

    assert event.status is expected


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"status": "exploded"}, "status"),
        ({"severity": "urgent"}, "severity"),
        ({"name": ""}, "name"),
        ({"source": ["prometheus", 3]}, "source"),
        ({"lastReceived": "not a time"}, "lastReceived"),
    ],
)
def test_keep_rejections_name_the_field(change: dict[str, Any], field: str) -> None:
    assert rejected_field(parse_keep, {**keep_body(), **change}) == field


def test_keep_array_and_derived_fingerprint() -> None:
    second = {"name": "DiskFull", "severity": "LOW", "source": "zabbix", "labels": {"host": "a"}}

    first, derived = parse_keep([keep_body(), second])

    assert first.fingerprint == "abc123def456"
    assert derived.fingerprint == fingerprint_of("DiskFull", labels={"host": "a"})
    assert derived.severity_label == "low"
    assert derived.source == "zabbix"
    assert derived.status is AlertStatus.FIRING
    assert rejected_field(parse_keep, [keep_body(), {**second, "status": "?"}]) == "[1].status"


def test_keep_prefers_its_start_time_and_url() -> None:
    body = {
        **keep_body(),
        "startedAt": "2026-02-20T09:00:00Z",
        "url": "https://keep.example.com/alerts/1",
    }

    [event] = parse_keep(body)

    assert event.starts_at == datetime(2026, 2, 20, 9, 0, tzinfo=UTC)
    assert event.generator_url == "https://keep.example.com/alerts/1"


# Generic and agent


def test_generic_spec_example() -> None:
    body = {
        "title": "Required: alert title",
        "severity": "critical",
        "fingerprint": "optional-dedup-key",
        "description": "Optional description",
        "labels": {"key": "value"},
        "source": "my-custom-system",
    }

    [event] = parse_generic(body, {})

    assert event.source_format is AlertSourceFormat.GENERIC
    assert event.status is AlertStatus.FIRING
    assert event.title == "Required: alert title"
    assert event.severity_label == "critical"
    assert event.fingerprint == "optional-dedup-key"
    assert event.description == "Optional description"
    assert event.labels == {"key": "value"}
    assert event.source == "my-custom-system"
    assert event.agent_metadata is None


def test_generic_defaults() -> None:
    [event] = parse_generic({"title": "  Disk full  "}, {})

    assert event.title == "Disk full"
    assert event.source == "generic"
    assert event.status is AlertStatus.FIRING
    assert event.severity_label is None
    assert event.description == ""
    assert event.labels == {}


def test_agent_spec_example_is_resolved_agent_alert() -> None:
    [event] = parse_generic(agent_body(), {})

    assert event.source_format is AlertSourceFormat.AGENT
    assert event.status is AlertStatus.RESOLVED
    assert event.fingerprint == "oom-payment-gateway-prod"
    assert event.source == "remediation-agent"
    assert event.agent_metadata == {
        "auto_resolved": True,
        "agent_id": "k8s-healer-01",
        "action_taken": "Increased memory limit from 256Mi to 512Mi and restarted pod",
        "action_result": "success",
        "confidence": 0.95,
    }


def test_agent_alert_not_auto_resolved_keeps_its_status() -> None:
    body = {**agent_body(), "agent_metadata": {"agent_id": "k8s-healer-01"}}

    [event] = parse_generic(body, {})

    assert event.source_format is AlertSourceFormat.AGENT
    assert event.status is AlertStatus.FIRING
    assert event.agent_metadata == {"auto_resolved": False, "agent_id": "k8s-healer-01"}


@pytest.mark.parametrize(
    ("metadata", "field"),
    [
        ("yes", "agent_metadata"),
        ({"confidence": 1.5}, "agent_metadata.confidence"),
        ({"confidence": "high"}, "agent_metadata.confidence"),
        ({"confidence": True}, "agent_metadata.confidence"),
        ({"auto_resolved": "true"}, "agent_metadata.auto_resolved"),
    ],
)
def test_agent_metadata_rejections(metadata: Any, field: str) -> None:
    body = {**agent_body(), "agent_metadata": metadata}

    assert rejected_field(parse_generic, body, {}) == field


def test_field_map_with_dotted_path_and_array_index() -> None:
    body = {
        "alert": {"name": "Queue backlog", "tags": {"queue": "billing"}},
        "items": [{"level": "P2"}, {"level": "P4"}],
        "title": "overridden by the map",
    }
    field_map = {
        "title": "alert.name",
        "labels": "alert.tags",
        "severity": "items.0.level",
        "description": "alert.missing",
        "fingerprint": "items.7.level",
    }

    [event] = parse_generic(body, field_map)

    assert event.title == "Queue backlog"
    assert event.labels == {"queue": "billing"}
    assert event.severity_label == "p2"
    assert event.description == ""
    assert event.fingerprint == fingerprint_of("generic", "Queue backlog", labels=event.labels)


def test_field_map_missing_path_falls_back_to_top_level_field() -> None:
    [event] = parse_generic({"title": "Top level"}, {"title": "alert.name"})

    assert event.title == "Top level"


def test_missing_title_names_the_field() -> None:
    assert rejected_field(parse_generic, {"severity": "critical"}, {}) == "title"
    assert rejected_field(parse_generic, [{"title": "ok"}, {"title": " "}], {}) == "[1].title"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "body"),
        ([{"title": "x"}] * 1001, "body"),
        ("text", "body"),
        ([{"title": "x"}, 3], "[1]"),
        ({"title": "x", "status": "exploded"}, "status"),
        ({"title": "x", "labels": "a=b"}, "labels"),
        ({"title": "x", "fingerprint": 12}, "fingerprint"),
        ([{"title": "x"}, {"title": "y", "description": ["z"]}], "[1].description"),
    ],
)
def test_generic_rejections_name_the_field(body: Any, field: str) -> None:
    assert rejected_field(parse_generic, body, {}) == field


def test_generic_array_yields_one_event_per_entry_and_status_is_case_insensitive() -> None:
    events = parse_generic(
        [{"title": "a", "status": "RESOLVED"}, {"title": "b", "status": "Acknowledged"}], {}
    )

    assert [e.status for e in events] == [AlertStatus.RESOLVED, AlertStatus.ACKNOWLEDGED]


def test_long_title_and_description_are_truncated_not_rejected() -> None:
    [event] = parse_generic({"title": "t" * 600, "description": "d" * 20_000}, {})

    assert len(event.title) == 500
    assert len(event.description) == 10_000


# Fingerprints


def test_derived_fingerprints_are_stable_and_depend_on_labels() -> None:
    body = {"title": "Disk full", "labels": {"host": "a", "mount": "/"}}
    reordered = {"title": "Disk full", "labels": {"mount": "/", "host": "a"}}
    other_host = {"title": "Disk full", "labels": {"host": "b", "mount": "/"}}

    [first] = parse_generic(body, {})
    [again] = parse_generic(reordered, {})
    [other] = parse_generic(other_host, {})

    assert first.fingerprint == again.fingerprint
    assert first.fingerprint != other.fingerprint
    assert len(first.fingerprint) == 32


def test_fingerprint_parts_do_not_run_together() -> None:
    assert fingerprint_of("a,b", "c", labels={}) != fingerprint_of("a", "b,c", labels={})


# Severity mapping


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("critical", Severity.CRITICAL),
        ("PAGE", Severity.CRITICAL),
        ("p1", Severity.CRITICAL),
        ("fatal", Severity.CRITICAL),
        ("error", Severity.HIGH),
        ("major", Severity.HIGH),
        ("warn", Severity.WARNING),
        ("minor", Severity.WARNING),
        ("p4", Severity.LOW),
        ("informational", Severity.INFO),
        ("ok", Severity.INFO),
        (" Info ", Severity.INFO),
        ("sev-banana", Severity.WARNING),
        (None, Severity.WARNING),
    ],
)
def test_map_severity_aliases(label: str | None, expected: Severity) -> None:
    assert map_severity(label, {}) is expected


def test_map_severity_tenant_mapping_wins() -> None:
    mapping = {"critical": "high", "sev1": "critical", "p5": "nonsense"}

    assert map_severity("critical", mapping) is Severity.HIGH
    assert map_severity("SEV1", mapping) is Severity.CRITICAL
    assert map_severity("p5", mapping) is Severity.INFO


# Serialisation


@pytest.mark.parametrize(
    "events",
    [
        lambda: parse_alertmanager(alertmanager_body()),
        lambda: parse_keep({**keep_body(), "status": "suppressed"}),
        lambda: parse_generic(agent_body(), {}),
    ],
)
def test_json_round_trip(events: Any) -> None:
    [event] = events()

    data = json.loads(json.dumps(event.to_json()))

    assert NormalizedEvent.from_json(data) == event
    assert data["source_format"] == event.source_format.value
