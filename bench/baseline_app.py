"""The reference point for the ingest benchmark: a bare Starlette app, one PostgreSQL
statement per request, nothing else.

``bench/ingest.py --shape baseline`` starts it under uvicorn and drives it with the
same load generator as OpsWatch, so both figures come from one client on one
machine. It is not part of OpsWatch and is never deployed.

Routes:

- ``POST /insert``: parse the JSON body, one ``INSERT`` of a new row into
  ``bench_event``, answer 202 after the commit (autocommit, default durability);
- ``POST /upsert``: parse the JSON body, one atomic
  ``INSERT ... ON CONFLICT (fingerprint) DO UPDATE SET occurrences = occurrences + 1``
  into ``bench_alert`` (with one fingerprint this is the hot-row case);
- ``GET /healthz``: 200 once the pool is open.

Environment: ``BENCH_DATABASE_URL`` (required; a ``postgres://`` URL) and
``BENCH_POOL_SIZE`` (connections in the asyncpg pool, default 10).

Run by hand::

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/somedb \\
        .venv/bin/uvicorn bench.baseline_app:app --host 127.0.0.1 --port 8100
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

CREATE_TABLES = (
    "CREATE TABLE IF NOT EXISTS bench_event ("
    " id uuid PRIMARY KEY,"
    " fingerprint text NOT NULL,"
    " title text NOT NULL,"
    " severity text NOT NULL,"
    " payload jsonb NOT NULL,"
    " received_at timestamptz NOT NULL)",
    "CREATE TABLE IF NOT EXISTS bench_alert ("
    " fingerprint text PRIMARY KEY,"
    " occurrences integer NOT NULL,"
    " last_received_at timestamptz NOT NULL)",
)

INSERT = (
    "INSERT INTO bench_event (id, fingerprint, title, severity, payload, received_at) "
    "VALUES ($1, $2, $3, $4, $5::jsonb, $6)"
)

UPSERT = (
    "INSERT INTO bench_alert (fingerprint, occurrences, last_received_at) VALUES ($1, 1, $2) "
    "ON CONFLICT (fingerprint) DO UPDATE SET occurrences = bench_alert.occurrences + 1, "
    "last_received_at = excluded.last_received_at"
)

_pool: Any = None


async def create_tables(connection: Any) -> None:
    """Idempotent; several uvicorn workers may race here, and only one needs to win."""
    for statement in CREATE_TABLES:
        with contextlib.suppress(asyncpg.UniqueViolationError, asyncpg.DuplicateTableError):
            await connection.execute(statement)


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    global _pool
    size = int(os.environ.get("BENCH_POOL_SIZE", "10"))
    _pool = await asyncpg.create_pool(
        os.environ["BENCH_DATABASE_URL"], min_size=size, max_size=size
    )
    try:
        async with _pool.acquire() as connection:
            await create_tables(connection)
        yield
    finally:
        await _pool.close()
        _pool = None


def _parse(body: bytes) -> dict[str, Any] | None:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(payload, dict):
        return None
    if not isinstance(payload.get("fingerprint"), str) or not isinstance(payload.get("title"), str):
        return None
    return payload


def _bad_request() -> JSONResponse:
    return JSONResponse({"error": "expected a JSON object with title and fingerprint"}, 400)


async def insert(request: Request) -> Response:
    payload = _parse(await request.body())
    if payload is None:
        return _bad_request()
    event_id = uuid.uuid4()
    await _pool.execute(
        INSERT,
        event_id,
        payload["fingerprint"],
        payload["title"],
        str(payload.get("severity") or "critical"),
        orjson.dumps(payload).decode(),
        datetime.now(UTC),
    )
    return JSONResponse({"accepted": 1, "events": [str(event_id)]}, status_code=202)


async def upsert(request: Request) -> Response:
    payload = _parse(await request.body())
    if payload is None:
        return _bad_request()
    await _pool.execute(UPSERT, payload["fingerprint"], datetime.now(UTC))
    return JSONResponse({"accepted": 1}, status_code=202)


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[
        Route("/insert", insert, methods=["POST"]),
        Route("/upsert", upsert, methods=["POST"]),
        Route("/healthz", healthz),
    ],
    lifespan=lifespan,
)
