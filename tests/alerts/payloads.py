"""The user's example payloads (SPEC-integrations.md section 2), shared by the tests."""

from __future__ import annotations

from typing import Any

SPEC_DESCRIPTION = "Pod payment-gateway-7f8b9c-xyz has been restarting for 15 minutes"


def alertmanager_body() -> dict[str, Any]:
    """The example of SPEC-integrations.md 2.1."""
    return {
        "version": "4",
        "groupKey": '{}:{alertname="PodCrashLoopBackOff"}',
        "status": "firing",
        "receiver": "opswatch",
        "externalURL": "http://alertmanager.example.com",
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "alertname": "PodCrashLoopBackOff",
                    "cluster": "production-de-01",
                    "namespace": "customer-api",
                    "pod": "payment-gateway-7f8b9c-xyz",
                    "severity": "critical",
                },
                "annotations": {
                    "summary": "Pod is in CrashLoopBackOff",
                    "description": SPEC_DESCRIPTION,
                    "runbook_url": "https://runbooks.example.com/pod-crashloop",
                },
                "startsAt": "2026-02-20T10:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": "abc123def456",
            }
        ],
    }


def agent_body() -> dict[str, Any]:
    """The example of SPEC-integrations.md 2.4."""
    return {
        "title": "OOM Kill - payment-gateway",
        "severity": "warning",
        "fingerprint": "oom-payment-gateway-prod",
        "source": "remediation-agent",
        "agent_metadata": {
            "agent_id": "k8s-healer-01",
            "action_taken": "Increased memory limit from 256Mi to 512Mi and restarted pod",
            "action_result": "success",
            "auto_resolved": True,
            "confidence": 0.95,
        },
    }
