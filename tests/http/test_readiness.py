"""/readyz reports 503 when the database stops answering, and recovers with it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest

from tests.conftest import BACKEND, free_port
from tests.http.outage import TcpProxy

pytestmark = pytest.mark.skipif(
    BACKEND != "postgres",
    reason="an SQLite file is part of the process and cannot become unreachable",
)


async def test_readyz_turns_503_when_postgres_refuses_connections(
    test_env: dict[str, str], tmp_path: Path
) -> None:
    admin_url = os.environ["OPSWATCH_TEST_DATABASE_URL"].replace("postgres://", "postgresql://")
    name = f"opswatch_ready_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    # The server reaches PostgreSQL through a proxy: cutting it is what a stopped
    # server looks like (connections reset, new ones refused).
    upstream = urlsplit(admin_url)
    proxy = TcpProxy(upstream.hostname or "127.0.0.1", upstream.port or 5432)
    await proxy.start()
    database_url = f"postgres://{upstream.username}@127.0.0.1:{proxy.port}/{name}"
    env = {**os.environ, **test_env, "OPSWATCH_DATABASE_URL": database_url}
    port = free_port()
    opswatch = str(Path(sys.executable).parent / "opswatch")
    server = subprocess.Popen(
        [opswatch, "api", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(200):
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
            assert (await client.get("/readyz")).status_code == 200

            await proxy.cut()
            down = await client.get("/readyz")
            assert down.status_code == 503
            assert down.json()["checks"]["database"].startswith("unavailable")
            assert (await client.get("/healthz")).status_code == 200
            webhook = await client.post(
                "/api/v1/webhooks/generic",
                json={"title": "while the database is down"},
                headers={"X-API-Key": "owk_000000000000_whatever"},
            )
            assert webhook.status_code == 503
            assert webhook.headers["Retry-After"].isdigit()
            for other in (
                await client.post(
                    "/graphql",
                    json={"query": "{ viewer { name } }"},
                    headers={"Authorization": "Bearer owu_000000000000_whatever"},
                ),
                await client.get("/api/v1/calendars/users/whatever.ics"),
            ):
                assert other.status_code == 503, other.text
                assert other.json()["error"]["code"] == "unavailable"
                assert other.headers["Retry-After"].isdigit()

            await proxy.restore()
            for _ in range(100):
                if (await client.get("/readyz")).status_code == 200:
                    break
                await asyncio.sleep(0.05)
            assert (await client.get("/readyz")).status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
        await proxy.cut()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
