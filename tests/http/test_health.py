"""Health, readiness and metrics endpoints."""

from __future__ import annotations

import httpx


async def test_healthz_and_readyz_answer_when_everything_is_up(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"] == "ok"


async def test_metrics_are_prometheus_text_labelled_by_route(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    response = await client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    assert 'opswatch_http_requests_total{route="/healthz",status="200"}' in response.text
