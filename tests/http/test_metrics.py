"""/metrics counts what operators alert on: webhooks by format and outcome, events
processed, pages by channel and status, provider latency, escalation lateness, and
the inbox backlog read at scrape time; in multiprocess mode, all processes at once."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from opswatch.metrics import scrape
from opswatch.models import Channel
from opswatch.runtime import Runtime
from tests.conftest import free_port, require_redis
from tests.escalation.support import fire, two_tier_policy
from tests.escalation.test_twilio import Twilio, settle_all, twilio  # noqa: F401 (a fixture)
from tests.factories import TenantKit

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def scraped(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200
    return samples(response.text)


async def test_a_webhook_and_the_page_it_causes_are_counted(
    client: httpx.AsyncClient,
    acme: TenantKit,
    app_runtime: Runtime,
    twilio: Twilio,  # noqa: F811
) -> None:
    await two_tier_policy(acme, channels=[Channel.SMS])
    before = await scraped(client)
    await fire(client, acme, app_runtime)
    await settle_all(app_runtime)
    after = await scraped(client)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    requests = "opswatch_webhook_requests_total"
    assert grew(requests, format="generic", outcome="accepted") == 1
    assert grew("opswatch_alert_events_received_total", format="generic") == 1
    assert grew("opswatch_alert_events_processed_total", outcome="created") == 1
    assert grew("opswatch_pages_total", channel="SMS", status="QUEUED") == 1
    latency = "opswatch_provider_request_seconds_count"
    assert grew(latency, provider="twilio", operation="text") == 1
    assert grew("opswatch_escalation_lateness_seconds_count") == 1
    assert value(after, "opswatch_inbox_backlog") == 0


async def test_a_refused_webhook_is_counted_with_its_code(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    before = await scraped(client)
    response = await client.post(
        "/api/v1/webhooks/alertmanager",
        content=b"{not json",
        headers={"X-API-Key": acme.api_key, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    after = await scraped(client)
    name = "opswatch_webhook_requests_total"
    labels = {"format": "alertmanager", "outcome": "400"}
    assert value(after, name, **labels) - value(before, name, **labels) == 1
    assert value(after, name, format="alertmanager", outcome="accepted") == value(
        before, name, format="alertmanager", outcome="accepted"
    )


async def test_the_scrape_answers_when_redis_does_not(
    client: httpx.AsyncClient, app_runtime: Runtime
) -> None:
    """Gauges it cannot read are left out; the counters still come."""
    closed = f"redis://127.0.0.1:{free_port()}/0"
    app_runtime.settings = dataclasses.replace(app_runtime.settings, redis_url=closed)
    found = await scraped(client)
    assert not any(name == "opswatch_queue_depth" for name, _ in found)
    assert ("opswatch_inbox_backlog", ()) in found


async def test_queue_depth_is_read_from_redis_per_queue(
    client: httpx.AsyncClient, app_runtime: Runtime
) -> None:
    app_runtime.settings = dataclasses.replace(app_runtime.settings, redis_url=require_redis())
    found = await scraped(client)
    assert ("opswatch_queue_depth", (("queue", "ingest"), ("state", "ready"))) in found
    assert ("opswatch_queue_depth", (("queue", "escalation"), ("state", "delayed"))) in found


COUNTING_PROCESS = """
import sys
from opswatch.metrics.definitions import LIVE_SUBSCRIBERS, PAGES
from opswatch.metrics.registry import process_identifier
PAGES.labels("SMS", "QUEUED").inc(int(sys.argv[1]))
LIVE_SUBSCRIBERS.inc()
print(process_identifier())
"""


def _count_in_a_process(directory: Path, pages: int) -> str:
    done = subprocess.run(
        [sys.executable, "-c", COUNTING_PROCESS, str(pages)],
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip()


def test_in_multiprocess_mode_one_scrape_adds_up_every_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opswatch.metrics import registry

    first = _count_in_a_process(tmp_path, 2)
    second = _count_in_a_process(tmp_path, 3)
    assert first != second
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    found = samples(scrape.exposition([]).decode())
    assert value(found, "opswatch_pages_total", channel="SMS", status="QUEUED") == 5
    assert value(found, "opswatch_live_subscribers") == 2

    # A process that ended no longer holds subscribers; what it counted stays counted.
    monkeypatch.setattr(registry, "process_identifier", lambda: first)
    registry.process_ended()
    found = samples(scrape.exposition([]).decode())
    assert value(found, "opswatch_live_subscribers") == 1
    assert value(found, "opswatch_pages_total", channel="SMS", status="QUEUED") == 5

    assert registry.wipe(str(tmp_path)) > 0
    assert list(tmp_path.glob("*.db")) == []
