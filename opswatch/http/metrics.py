"""Request metrics, labelled by route template so ids never explode the label space."""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Receive, Scope, Send

from opswatch.http.watch import ResponseWatch
from opswatch.metrics import registry  # noqa: F401 (first: it picks where samples go)

REQUESTS = Counter("opswatch_http_requests_total", "HTTP requests", ["route", "status"])
LATENCY = Histogram(
    "opswatch_http_request_seconds",
    "HTTP request latency",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        watch = ResponseWatch(send)
        try:
            await self.app(scope, receive, watch.send)
        finally:
            # The router notes the route it matched in the scope; matching every
            # route again here cost as much as a webhook's own parsing.
            route = str(getattr(scope.get("route"), "path", "unmatched"))
            LATENCY.labels(route).observe(time.perf_counter() - started)
            REQUESTS.labels(route, str(watch.status or 500)).inc()
