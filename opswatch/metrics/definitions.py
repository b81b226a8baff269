"""The metrics OpsWatch keeps, each counted where the thing happens. Label values come
from small fixed sets (formats, channels, statuses, Slack methods), never ids."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

from prometheus_client import Counter, Gauge, Histogram
from starlette.responses import Response

from opswatch.metrics import registry  # noqa: F401 (first: it picks where samples go)

R = TypeVar("R", bound=Response)

WEBHOOK_REQUESTS = Counter(
    "opswatch_webhook_requests_total",
    "Alert webhook requests, by format and outcome (accepted, or the refusal's HTTP code)",
    ["format", "outcome"],
)
EVENTS_RECEIVED = Counter(
    "opswatch_alert_events_received_total",
    "Alert events accepted into the inbox, by format",
    ["format"],
)
EVENTS_PROCESSED = Counter(
    "opswatch_alert_events_processed_total",
    "Inbox events processed, by outcome (opened, repeated, resolved, ignored, ...)",
    ["outcome"],
)
PAGES = Counter(
    "opswatch_pages_total",
    "Pages handed to a provider (or given up before), by channel and the status it got",
    ["channel", "status"],
)
PAGE_REPORTS = Counter(
    "opswatch_page_reports_total",
    "Providers' delivery reports after a page was handed over (delivered, answered,"
    " no_answer, failed), by channel; each attempt is counted once per status it reaches",
    ["channel", "status"],
)
PROVIDER_LATENCY = Histogram(
    "opswatch_provider_request_seconds",
    "How long a provider took to answer a page, by provider and operation",
    ["provider", "operation"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30),
)
ESCALATION_LATENESS = Histogram(
    "opswatch_escalation_lateness_seconds",
    "From an escalation step being taken to its page being handed to the provider",
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)
LIVE_SUBSCRIBERS = Gauge(
    "opswatch_live_subscribers",
    "Authenticated GraphQL WebSocket connections open now",
    multiprocess_mode="livesum",
)
SLACK_CALLS = Counter(
    "opswatch_slack_api_calls_total",
    "Slack Web API calls, by method and outcome (ok, or Slack's error code)",
    ["method", "outcome"],
)


def webhook_answered(source_format: str, response: R) -> R:
    """Count the answer a webhook request got (and the events a 202 took); returns it."""
    accepted = response.status_code < 300
    outcome = "accepted" if accepted else str(response.status_code)
    WEBHOOK_REQUESTS.labels(source_format, outcome).inc()
    taken = getattr(response, "accepted", 0)  # webhooks.Accepted carries it
    if accepted and taken:
        EVENTS_RECEIVED.labels(source_format).inc(taken)
    return response


@contextmanager
def provider_request(provider: str, operation: str) -> Iterator[None]:
    """Times the request whether it succeeds or not: a slow refusal is slow too."""
    started = time.perf_counter()
    try:
        yield
    finally:
        PROVIDER_LATENCY.labels(provider, operation).observe(time.perf_counter() - started)
