"""A real Alertmanager (the Debian package, 0.25) delivering to OpsWatch over HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from opswatch.models import Alert, AlertEvent, AlertStatus, Severity
from tests.conftest import free_port
from tests.factories import TenantKit

BINARY = "prometheus-alertmanager"
WAIT_SECONDS = 20.0
GROUP_KEY = '{}:{alertname="PodCrashLoopBackOff"}'
LABELS = {
    "alertname": "PodCrashLoopBackOff",
    "cluster": "production-de-01",
    "namespace": "customer-api",
    "pod": "payment-gateway-7f8b9c-xyz",
    "severity": "critical",
}
ANNOTATIONS = {
    "summary": "Pod is in CrashLoopBackOff",
    "description": "Pod payment-gateway-7f8b9c-xyz has been restarting for 15 minutes",
    "runbook_url": "https://runbooks.example.com/pod-crashloop",
}
GENERATOR_URL = "http://prometheus.example:9090/graph?g0.expr=kube_pod_crashloop"

T = TypeVar("T")


@dataclass
class Alertmanager:
    url: str
    http: httpx.AsyncClient

    async def post(self, *alerts: dict[str, Any]) -> None:
        response = await self.http.post(f"{self.url}/api/v2/alerts", json=list(alerts))
        assert response.status_code == 200, response.text

    async def fingerprints(self) -> dict[str, str]:
        """pod label -> the fingerprint Alertmanager computed for that alert."""
        response = await self.http.get(f"{self.url}/api/v2/alerts")
        assert response.status_code == 200, response.text
        return {a["labels"]["pod"]: a["fingerprint"] for a in response.json()}

    async def deliveries(self) -> int:
        """Successful webhook notifications, by Alertmanager's own counters."""
        metrics = (await self.http.get(f"{self.url}/metrics")).text.splitlines()

        def counter(name: str) -> int:
            prefix = f'alertmanager_{name}{{integration="webhook"}} '
            return sum(int(float(m.removeprefix(prefix))) for m in metrics if m.startswith(prefix))

        return counter("notifications_total") - counter("notifications_failed_total")


@pytest.fixture
async def alertmanager(
    live_server: str, acme: TenantKit, tmp_path: Path
) -> AsyncIterator[Alertmanager]:
    binary = shutil.which(BINARY)
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{BINARY} is not installed in CI (.ci/run installs it)")
        pytest.skip(f"{BINARY} is not installed (apt-get install prometheus-alertmanager)")
    address = f"127.0.0.1:{free_port()}"
    webhook = {
        "url": f"http://{live_server}/api/v1/webhooks/alertmanager",
        "send_resolved": True,
        "http_config": {"authorization": {"credentials": acme.api_key}},
    }
    route = {"group_by": ["alertname"], "group_wait": "1s", "group_interval": "2s"}
    config = {
        "route": {"receiver": "opswatch", **route, "repeat_interval": "1h"},
        "receivers": [{"name": "opswatch", "webhook_configs": [webhook]}],
    }
    config_path = tmp_path / "alertmanager.yml"
    config_path.write_text(json.dumps(config))  # JSON is YAML
    log_path = tmp_path / "alertmanager.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            binary,
            f"--config.file={config_path}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address={address}",
            f"--web.external-url=http://{address}",
            "--cluster.listen-address=",
            "--log.level=debug",
            stdout=log,
            stderr=log,
        )

    try:
        async with httpx.AsyncClient(timeout=5) as http:

            async def ready() -> bool | None:
                assert process.returncode is None, f"Alertmanager exited: {process.returncode}"
                try:
                    return (await http.get(f"http://{address}/-/ready")).is_success or None
                except httpx.TransportError:
                    return None

            await eventually(ready, "Alertmanager ready")
            yield Alertmanager(url=f"http://{address}", http=http)
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()
        # pytest shows this only for a failed test.
        print(f"--- Alertmanager log ---\n{log_path.read_text(errors='replace')}")


async def eventually(check: Callable[[], Awaitable[T | None]], what: str) -> T:
    """Delivery and processing are asynchronous: poll, but not forever."""
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        if (result := await check()) is not None:
            return result
        await asyncio.sleep(0.1)
    pytest.fail(f"not within {WAIT_SECONDS}s: {what}")


def am_alert(pod: str, *, starts: datetime, ends: datetime) -> dict[str, Any]:
    return {
        "labels": {**LABELS, "pod": pod},
        "annotations": ANNOTATIONS,
        "startsAt": starts.isoformat(),
        "endsAt": ends.isoformat(),
        "generatorURL": GENERATOR_URL,
    }


async def settled_alerts(kit: TenantKit, count: int) -> list[Alert] | None:
    alerts = await Alert.filter(tenant=kit.tenant).order_by("created_at")
    ready = len(alerts) == count and await AlertEvent.filter(processed_at__isnull=True).count() == 0
    return alerts if ready else None


async def test_firing_repeat_and_resolved_through_a_real_alertmanager(
    alertmanager: Alertmanager, acme: TenantKit
) -> None:
    pod = LABELS["pod"]
    starts = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    await alertmanager.post(am_alert(pod, starts=starts, ends=starts + timedelta(hours=1)))
    [alert] = await eventually(lambda: settled_alerts(acme, 1), "one alert from Alertmanager")
    fingerprint = (await alertmanager.fingerprints())[pod]
    assert re.fullmatch("[0-9a-f]{16}", fingerprint)
    assert alert.fingerprint == fingerprint
    assert alert.status is AlertStatus.FIRING
    assert alert.title == ANNOTATIONS["summary"]
    assert alert.severity is Severity.CRITICAL
    assert alert.labels == LABELS
    assert alert.runbook_url == ANNOTATIONS["runbook_url"]
    assert alert.group_key == GROUP_KEY
    assert alert.generator_url == GENERATOR_URL
    assert alert.external_url == alertmanager.url
    assert alert.starts_at == starts
    assert alert.ends_at is None  # Alertmanager sends the zero time for a firing alert

    # What Prometheus does every evaluation; Alertmanager keeps it to itself until repeat_interval.
    await alertmanager.post(am_alert(pod, starts=starts, ends=starts + timedelta(hours=1)))
    ended = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    await alertmanager.post(am_alert(pod, starts=starts, ends=ended))

    async def resolved() -> Alert | None:
        await alert.refresh_from_db()
        return alert if alert.status is AlertStatus.RESOLVED else None

    await eventually(resolved, "the alert resolved")
    assert alert.resolved_at is not None
    assert alert.ends_at == ended
    assert await Alert.filter(tenant=acme.tenant).count() == 1

    events = await AlertEvent.filter(tenant=acme.tenant).order_by("received_at")
    assert len(events) == await alertmanager.deliveries()
    assert all(e.processed_at is not None and e.outcome for e in events)
    assert [e.outcome for e in events] == ["created", *["repeated"] * (len(events) - 2), "resolved"]
    assert {e.fingerprint for e in events} == {fingerprint}


async def test_two_alerts_of_one_group_arrive_as_two_alerts(
    alertmanager: Alertmanager, acme: TenantKit
) -> None:
    # A fresh startsAt makes Alertmanager honour group_wait (it flushes a group at once for an
    # alert older than that), so both alerts are surely in the first notification.
    starts = datetime.now(UTC)
    ends = starts + timedelta(hours=1)
    await alertmanager.post(
        am_alert("api-1", starts=starts, ends=ends), am_alert("api-2", starts=starts, ends=ends)
    )
    alerts = await eventually(lambda: settled_alerts(acme, 2), "two alerts from one group")
    fingerprints = await alertmanager.fingerprints()
    assert {a.labels["pod"]: a.fingerprint for a in alerts} == fingerprints
    assert len(set(fingerprints.values())) == 2
    assert {(a.status, a.group_key) for a in alerts} == {(AlertStatus.FIRING, GROUP_KEY)}
    assert await alertmanager.deliveries() == 1
    events = await AlertEvent.filter(tenant=acme.tenant)
    assert sorted(e.outcome or "" for e in events) == ["created", "created"]
