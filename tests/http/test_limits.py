"""Every route refuses a body over the limit (1 MiB by default) with a 413, before
authentication and without holding the body: by its Content-Length at once, and
while it streams when no length was declared."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from opswatch.config import Settings
from tests.factories import TenantKit

CHUNK = b"x" * 65_536
ROUTES = [
    "/graphql",
    "/api/v1/webhooks/generic",
    "/api/v1/twilio/sms",
    "/api/v1/vonage/sms",
    "/api/v1/slack/events",
    "/healthz",
]


def _chunks(total: int) -> Iterator[bytes]:
    for _ in range(total // len(CHUNK)):
        yield CHUNK


async def _stream(total: int) -> AsyncIterator[bytes]:
    for chunk in _chunks(total):
        yield chunk


def _reset_peak_rss() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/self/status")


def _assert_refused(response: httpx.Response, settings: Settings) -> None:
    assert response.status_code == 413, response.text
    assert response.json() == {
        "error": {
            "code": "too_large",
            "message": f"the body exceeds {settings.max_body_bytes} bytes",
            "field": "body",
        }
    }


async def test_an_anonymous_graphql_post_of_2_mb_is_413_at_once(
    live_server: str, settings: Settings
) -> None:
    body = b'{"query": "' + b"a" * 2_000_000 + b'"}'
    async with httpx.AsyncClient(base_url=f"http://{live_server}") as http:
        started = time.perf_counter()
        response = await http.post(
            "/graphql", content=body, headers={"Content-Type": "application/json"}
        )
        elapsed = time.perf_counter() - started
        _assert_refused(response, settings)
        assert elapsed < 1.0
        # The connection is still good for the next request.
        assert (await http.get("/healthz")).status_code == 200


@pytest.mark.parametrize("path", ROUTES)
async def test_every_route_refuses_a_declared_length_over_the_limit(
    client: httpx.AsyncClient, settings: Settings, path: str
) -> None:
    response = await client.post(
        path, content=b"{" * (settings.max_body_bytes + 1), headers={"X-API-Key": "owk_x_y"}
    )
    _assert_refused(response, settings)


# Routes that read the body of anyone (a webhook reads only its keys' bodies).
@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/graphql", "application/json"),
        ("/api/v1/twilio/sms", "application/x-www-form-urlencoded"),
        ("/api/v1/vonage/sms", "application/json"),
        ("/api/v1/webhooks/generic", "application/json"),
    ],
)
async def test_a_chunked_body_is_refused_once_it_passes_the_limit(
    live_server: str, settings: Settings, acme: TenantKit, path: str, content_type: str
) -> None:
    async with httpx.AsyncClient(base_url=f"http://{live_server}") as http:
        response = await http.post(
            path,
            content=_stream(2 * 1024 * 1024),
            headers={"Content-Type": content_type, "X-API-Key": acme.api_key},
        )
        assert "content-length" not in response.request.headers
        _assert_refused(response, settings)
        assert (await http.get("/healthz")).status_code == 200


async def test_a_body_at_the_limit_is_read(client: httpx.AsyncClient, settings: Settings) -> None:
    padding = b" " * (settings.max_body_bytes - len(b'{"query": "{ __typename }"}'))
    response = await client.post(
        "/graphql",
        content=b'{"query": "{ __typename }"}' + padding,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("declared", [True, False])
async def test_refused_bodies_are_not_held_in_memory(
    live_server: str, settings: Settings, declared: bool
) -> None:
    total = 64 * 1024 * 1024
    headers = {"Content-Type": "application/json"}
    if declared:
        headers["Content-Length"] = str(total)
    async with httpx.AsyncClient(base_url=f"http://{live_server}", timeout=60) as http:
        await http.get("/healthz")
        _reset_peak_rss()
        before = _status_kib("VmRSS")
        response = await http.post("/graphql", content=_stream(total), headers=headers)
        peak = _status_kib("VmHWM")
    _assert_refused(response, settings)
    # Client and server share this process: neither may have held the 64 MiB body.
    assert (peak - before) * 1024 < 16 * 1024 * 1024
