"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis
from starlette.requests import Request
from starlette.responses import JSONResponse

from opswatch import db, runtime


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """Ready only when the database (and Redis, when configured) answer right now."""
    checks: dict[str, str] = {}
    try:
        await db.ping(timeout=2.0)
        checks["database"] = "ok"
    except Exception as error:
        checks["database"] = f"unavailable: {type(error).__name__}"
    redis_url = runtime.current().settings.redis_url
    if redis_url is not None:
        client = aioredis.Redis.from_url(redis_url, socket_connect_timeout=2)
        try:
            await asyncio.wait_for(client.ping(), 2.0)
            checks["redis"] = "ok"
        except Exception as error:
            checks["redis"] = f"unavailable: {type(error).__name__}"
        finally:
            await client.aclose()
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )
