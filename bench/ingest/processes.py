"""Processes the benchmark starts (servers, the ``opswatch`` CLI), the scratch
PostgreSQL database and the run's Redis namespace."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import sys
import time
from collections import Counter
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg

from .base import CLI_TIMEOUT_S, LOOPBACK, REPO, START_TIMEOUT_S, STOP_TIMEOUT_S, BenchError, say


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def _open_log(path: Path) -> IO[bytes]:
    return path.open("ab")


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a log file."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def api_command(port: int, workers: int) -> list[str]:
    """``opswatch api`` on loopback, as the production shape runs it."""
    command = ["-m", "opswatch", "api", "--host", LOOPBACK, "--port", str(port)]
    return [sys.executable, *command, "--workers", str(workers)]


class Service:
    """A server process we started, in its own session so that it and its children
    (uvicorn workers) are stopped together by process group id."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_path
        self.process: asyncio.subprocess.Process | None = None

    @property
    def pgid(self) -> int:
        assert self.process is not None
        return self.process.pid  # a session leader's pid is its group id

    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def start(self) -> None:
        log = _open_log(self.log_path)
        try:
            self.process = await asyncio.create_subprocess_exec(
                *self.argv,
                env=self.env,
                cwd=REPO,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        say(f"started {self.name} (pid {self.process.pid}), log {self.log_path}")

    def _signal_group(self, signum: int) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, signum)

    async def stop(self) -> None:
        if self.process is None:
            return
        if self.process.returncode is None:
            self._signal_group(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                say(f"{self.name} did not stop within {STOP_TIMEOUT_S:.0f} s; killing it")
                self._signal_group(signal.SIGKILL)
                await asyncio.wait_for(self.process.wait(), 5)
        # Anything left in the group (a uvicorn worker whose parent went first).
        self._signal_group(signal.SIGKILL)
        say(f"stopped {self.name} (exit {self.process.returncode})")

    def log_tail(self, lines: int = 40) -> str:
        return tail(self.log_path, lines)


async def wait_http_ok(session: aiohttp.ClientSession, url: str, service: Service) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if not service.alive():
            raise BenchError(f"{service.name} exited early:\n{service.log_tail()}")
        try:
            async with session.get(url, timeout=aiohttp.ClientTimeout(total=3)) as response:
                await response.read()
                if response.status == 200:
                    return
        except (aiohttp.ClientError, TimeoutError):
            pass
        await asyncio.sleep(0.2)
    raise BenchError(f"{url} did not answer 200 within {START_TIMEOUT_S:.0f} s")


async def wait_log_line(service: Service, text: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if not service.alive():
            raise BenchError(f"{service.name} exited early:\n{service.log_tail()}")
        if text in service.log_tail(200):
            return
        await asyncio.sleep(0.2)
    raise BenchError(f"{service.name} did not log {text!r} within {START_TIMEOUT_S:.0f} s")


def _exceptions(lines: list[str]) -> Counter[str]:
    """The final line of every traceback: the exception and its message."""
    found: Counter[str] = Counter()
    inside = False
    for line in lines:
        if line.startswith("Traceback"):
            inside = True
        elif inside and line and not line[0].isspace():
            found[line.strip()[:160]] += 1
            inside = False
    return found


def log_issues(services: list[Service]) -> dict[str, Any]:
    """What the servers complained about while measured: counts of ERROR and WARNING
    lines, retried jobs, tracebacks, and the distinct exceptions they ended in."""
    found: dict[str, Any] = {}
    for service in services:
        try:
            lines = service.log_path.read_text(errors="replace").splitlines()
        except OSError:
            continue
        found[service.name] = {
            "errors": sum(" ERROR " in line or line.startswith("ERROR:") for line in lines),
            "warnings": sum(" WARNING " in line or line.startswith("WARNING:") for line in lines),
            "tracebacks": sum(line.startswith("Traceback") for line in lines),
            "retries": sum("Retrying message" in line for line in lines),
            "exceptions": dict(_exceptions(lines).most_common(5)),
        }
    return found


async def run_cli(env: dict[str, str], *args: str) -> dict[str, Any]:
    """Run ``opswatch ARGS``; with ``--json``, return the object it printed."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "opswatch",
        *args,
        env=env,
        cwd=REPO,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), CLI_TIMEOUT_S)
    except (TimeoutError, asyncio.CancelledError):
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise
    command = " ".join(args[:2])
    if process.returncode != 0:
        raise BenchError(
            f"opswatch {command} exited {process.returncode}: {err.decode(errors='replace')}"
        )
    if "--json" not in args:
        return {}
    lines = out.decode().strip().splitlines()
    if not lines:
        raise BenchError(f"opswatch {command} printed nothing")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPSWATCH_", "BENCH_"))}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


# ---------------------------------------------------------------------------
# Databases and Redis


def database_url(admin_url: str, name: str) -> str:
    parts = urlsplit(admin_url)
    return urlunsplit(parts._replace(path="/" + name))


class PostgresAdmin:
    def __init__(self, admin_url: str) -> None:
        host = urlsplit(admin_url).hostname
        if host not in (LOOPBACK, "localhost"):
            raise BenchError(f"--postgres-url must point at {LOOPBACK}, not {host!r}")
        self.admin_url = admin_url

    async def create(self) -> tuple[str, str]:
        name = f"opswatch_bench_{secrets.token_hex(6)}"
        connection = await asyncpg.connect(self.admin_url, timeout=10)
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        say(f"created database {name}")
        return name, database_url(self.admin_url, name)

    async def drop(self, name: str) -> None:
        connection = await asyncpg.connect(self.admin_url, timeout=10)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()
        say(f"dropped database {name}")

    async def version(self) -> str:
        connection = await asyncpg.connect(self.admin_url, timeout=10)
        try:
            return str(await connection.fetchval("SHOW server_version"))
        finally:
            await connection.close()


async def redis_version(url: str) -> str:
    import redis.asyncio as aioredis

    client: Any = aioredis.Redis.from_url(url)
    try:
        info = await client.info("server")
        return str(info.get("redis_version", "?"))
    finally:
        await client.aclose()


async def redis_cleanup(url: str, namespace: str) -> None:
    """Delete every key of this run's namespace (bounded: at most 1,000 scan rounds)."""
    import redis.asyncio as aioredis

    client: Any = aioredis.Redis.from_url(url)
    deleted = 0
    try:
        cursor: int = 0
        for _ in range(1000):
            cursor, keys = await client.scan(cursor=cursor, match=f"{namespace}*", count=1000)
            if keys:
                deleted += await client.delete(*keys)
            if cursor == 0:
                break
    finally:
        await client.aclose()
    say(f"deleted {deleted} Redis keys of namespace {namespace}")
