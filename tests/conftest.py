"""Test fixtures: a real database per test session (SQLite or PostgreSQL, chosen by
OPSWATCH_TEST_BACKEND), emptied before every test, and a runtime like production's.

Tortoise holds one backend per process, so ``scripts/test-backends`` runs this
suite once per backend in separate pytest processes.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis
from starlette.applications import Starlette
from tortoise import connections

from opswatch import db, runtime
from opswatch.config import Settings, load_settings
from opswatch.http.app import create_app
from opswatch.queue.inprocess import InProcessQueue
from tests.factories import TenantKit, make_tenant

BACKEND = os.environ.get("OPSWATCH_TEST_BACKEND", "sqlite")
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"
KEEP_TABLES = {"tortoise_migrations"}
FTS5_SHADOW = re.compile(r"_fts_(data|idx|content|docsize|config)$")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def redis_url() -> str | None:
    return os.environ.get("OPSWATCH_TEST_REDIS_URL")


def require_redis() -> str:
    """Redis-backed tests skip locally without Redis, but never in CI."""
    url = redis_url()
    if url is None:
        if os.environ.get("CI") == "true":
            pytest.fail("OPSWATCH_TEST_REDIS_URL is unset in CI")
        pytest.skip("OPSWATCH_TEST_REDIS_URL is unset")
    return url


def _postgres_admin_url() -> str:
    url = os.environ.get("OPSWATCH_TEST_DATABASE_URL")
    if not url:
        pytest.fail("OPSWATCH_TEST_BACKEND=postgres needs OPSWATCH_TEST_DATABASE_URL")
    return url.replace("postgresql://", "postgres://", 1)


def _with_database(url: str, name: str) -> str:
    base = url.rsplit("/", 1)[0]
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("opswatch-data")


@pytest.fixture(scope="session")
async def database_url(data_dir: Path) -> AsyncIterator[str]:
    if BACKEND == "sqlite":
        yield f"sqlite://{data_dir / 'test.sqlite3'}"
        return
    admin = _postgres_admin_url()
    name = f"opswatch_test_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(admin.replace("postgres://", "postgresql://", 1))
    await connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(admin, name)
    finally:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()


@pytest.fixture(scope="session")
def test_env(database_url: str, data_dir: Path) -> Iterator[dict[str, str]]:
    """The environment a process of this test run gets (CLI and worker subprocesses too)."""
    env = {
        "OPSWATCH_DATABASE_URL": database_url,
        "OPSWATCH_DATA_DIR": str(data_dir),
        "OPSWATCH_SECRET_KEY": TEST_SECRET,
        "OPSWATCH_PUBLIC_URL": "http://opswatch.test",
    }
    if BACKEND == "postgres" and redis_url():
        env["OPSWATCH_REDIS_URL"] = redis_url() or ""
        # Queues and the event stream of this run stay apart from any other.
        env["OPSWATCH_REDIS_NAMESPACE"] = f"opswatch-test-{uuid.uuid4().hex[:8]}"
    yield env
    if "OPSWATCH_REDIS_NAMESPACE" in env:
        client = redis.Redis.from_url(env["OPSWATCH_REDIS_URL"])
        for key in client.scan_iter(match=env["OPSWATCH_REDIS_NAMESPACE"] + ":*"):
            client.delete(key)
        client.close()


@pytest.fixture(scope="session")
def settings(test_env: dict[str, str]) -> Settings:
    return load_settings(test_env)


@pytest.fixture(scope="session")
async def database(settings: Settings) -> AsyncIterator[None]:
    await db.upgrade(settings.database_url)
    await db.connect(settings.database_url)
    yield
    await db.disconnect()


async def empty_all_tables() -> None:
    connection = connections.get("default")
    if BACKEND == "sqlite":
        rows = await connection.execute_query_dict(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        # FTS5 keeps its index in shadow tables that only it may write.
        tables = [
            r["name"]
            for r in rows
            if r["name"] not in KEEP_TABLES and not FTS5_SHADOW.search(r["name"])
        ]
        await connection.execute_script(
            "PRAGMA foreign_keys = OFF;"
            + "".join(f'DELETE FROM "{t}";' for t in tables)
            + "PRAGMA foreign_keys = ON;"
        )
    else:
        rows = await connection.execute_query_dict(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        )
        tables = [r["tablename"] for r in rows if r["tablename"] not in KEEP_TABLES]
        await connection.execute_script(
            "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE"
        )


@pytest.fixture(autouse=True)
async def clean_database(database: None) -> None:
    await empty_all_tables()


@pytest.fixture
async def app_runtime(settings: Settings) -> AsyncIterator[runtime.Runtime]:
    """The process runtime, with jobs run in-process so a test can wait for them.

    (Jobs through Dramatiq on Redis run in real worker subprocesses: tests/tasks.)
    """
    current = runtime.Runtime(
        settings=settings,
        secret_box=runtime.build(settings).secret_box,
        queue=InProcessQueue(),
        events=runtime.build_events(settings),
    )
    runtime.install(current)
    await current.queue.start()
    await current.events.start()
    yield current
    await current.queue.stop()
    await current.events.stop()
    runtime.install(None)


@pytest.fixture
async def client(
    settings: Settings, app_runtime: runtime.Runtime
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, connect_database=False, run_scheduler=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://opswatch.test") as http:
        yield http


@pytest.fixture
async def acme(app_runtime: runtime.Runtime) -> TenantKit:
    return await make_tenant("Acme")


@pytest.fixture
async def globex(app_runtime: runtime.Runtime) -> TenantKit:
    return await make_tenant("Globex")


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(require_redis())
    yield client
    client.close()


@contextlib.asynccontextmanager
async def served(app: Starlette) -> AsyncIterator[str]:
    """``app`` served by a real uvicorn server on this test loop, at host:port."""
    import asyncio

    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.get_running_loop().create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def live_server(settings: Settings, app_runtime: runtime.Runtime) -> AsyncIterator[str]:
    """A real uvicorn server on this test loop, sharing the test's runtime (so its jobs
    run in-process and a test can wait for them)."""
    app = create_app(
        settings, connect_database=False, run_scheduler=False, shared_runtime=app_runtime
    )
    async with served(app) as address:
        yield address


@pytest.fixture
def query_count() -> Iterator[list[str]]:
    """Every SQL statement sent while the test runs (instrumentation, not a stand-in)."""
    client = connections.get("default")
    seen: list[str] = []
    originals = {name: getattr(client, name) for name in ("execute_query", "execute_query_dict")}

    def counting(name: str) -> Any:
        async def run(query: str, values: Any = None) -> Any:
            seen.append(query)
            return await originals[name](query, values)

        return run

    for name in originals:
        setattr(client, name, counting(name))
    yield seen
    for name, original in originals.items():
        setattr(client, name, original)
