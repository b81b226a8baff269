"""Fault injection for the production shape: a PostgreSQL and a Redis of its own, real
``opswatch api``, ``worker`` and ``scheduler`` processes, a load generator that retries
the way Alertmanager does, and a tally of what became of every event it offered.

Used by ``tests/reliability/test_faults.py`` (short runs) and ``bench/chaos.py`` (long
ones). It never touches a server it did not start: each one listens on a free port of
127.0.0.1 and keeps its files in a temporary directory that ``Stack.close`` removes.
PostgreSQL refuses to run as root, so as root its commands run as the ``postgres``
user (``runuser``), in a directory that user owns.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pwd
import random
import shutil
import signal
import socket
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import asyncpg
import httpx
import redis.asyncio as aioredis

LOOPBACK = "127.0.0.1"
REPO = Path(__file__).resolve().parents[2]
PG_BIN = Path(os.environ.get("OPSWATCH_PG_BIN", "/usr/lib/postgresql/15/bin"))
SECRET_KEY = "chaos-secret-key-that-is-long-enough-0123456789"
START_TIMEOUT_S = 120.0  # an api took 33 s to be ready on two busy cores
STOP_TIMEOUT_S = 25.0
CLI_TIMEOUT_S = 120.0
PG_OWNER = "postgres"

Log = Callable[[str], None]


def quiet(message: str) -> None:
    return None


class HarnessError(RuntimeError):
    """Something the harness needs did not work; the message says what."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def missing_tools() -> list[str]:
    """What this machine lacks to run the faults; empty when everything is there."""
    missing = [str(PG_BIN / tool) for tool in ("initdb", "pg_ctl") if not (PG_BIN / tool).exists()]
    if shutil.which("redis-server") is None:
        missing.append("redis-server")
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            missing.append("runuser")
        try:
            pwd.getpwnam(PG_OWNER)
        except KeyError:
            missing.append(f"user {PG_OWNER}")
    return missing


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    """This process's environment without its own OPSWATCH_* settings (a test run's
    database must not leak into the processes under test), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSWATCH_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


class Process:
    """A process we started, leading its own session so that it and its children
    (uvicorn's) are signalled together."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_path
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        log: IO[bytes] = self.log_path.open("ab")
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

    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    @property
    def returncode(self) -> int | None:
        return self.process.returncode if self.process is not None else None

    def _signal_group(self, signum: int) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signum)

    async def kill(self) -> None:
        """SIGKILL, as the kernel's OOM killer or a lost node would."""
        if self.process is None:
            return
        self._signal_group(signal.SIGKILL)
        await asyncio.wait_for(self.process.wait(), 10)

    async def stop(self) -> None:
        if self.process is None:
            return
        if self.process.returncode is None:
            self._signal_group(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                self._signal_group(signal.SIGKILL)
                await asyncio.wait_for(self.process.wait(), 10)
        # Whatever is left of the group (a child whose parent went first).
        self._signal_group(signal.SIGKILL)

    def tail(self, lines: int = 60) -> str:
        return tail(self.log_path, lines)


async def run(argv: list[str], *, env: dict[str, str] | None = None, timeout: float) -> str:
    """Run a command to its end; its output, or HarnessError with that output.

    The output goes through a file, not a pipe: pg_ctl leaves a server behind, and
    a pipe that the server inherits would never reach its end (under uvloop it did).
    """
    with tempfile.TemporaryFile() as output:
        process = await asyncio.create_subprocess_exec(
            *argv,
            env=env,
            cwd=REPO,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=output,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise
        output.seek(0)
        text = output.read().decode(errors="replace")
    if process.returncode != 0:
        raise HarnessError(f"{' '.join(argv[:4])} exited {process.returncode}:\n{text}")
    return text


async def run_cli(env: dict[str, str], *args: str) -> dict[str, Any]:
    """``opswatch ARGS``; with ``--json``, the object it printed."""
    out = await run([sys.executable, "-m", "opswatch", *args], env=env, timeout=CLI_TIMEOUT_S)
    if "--json" not in args:
        return {}
    printed: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return printed


class Postgres:
    """A throwaway cluster: initdb into a temporary directory, pg_ctl to start, restart
    (``-m fast``: sessions are cut, as in a failover) and stop it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="opswatch-chaos-pg-"))
        self.data = self.root / "data"
        self.log_path = self.root / "postgres.log"
        if os.geteuid() == 0:
            owner = pwd.getpwnam(PG_OWNER)
            os.chown(self.root, owner.pw_uid, owner.pw_gid)

    @property
    def url(self) -> str:
        return f"postgres://postgres@{LOOPBACK}:{self.port}/postgres"

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@{LOOPBACK}:{self.port}/postgres"

    def _as_owner(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", PG_OWNER, "--", *argv] if os.geteuid() == 0 else argv

    def _options(self) -> str:
        # Our own socket directory: the shared server's lock files are none of ours.
        sockets = f"-c unix_socket_directories={self.root}"
        return f"-p {self.port} -c listen_addresses={LOOPBACK} {sockets}"

    async def _pg_ctl(self, *args: str, timeout: float = START_TIMEOUT_S) -> str:
        argv = [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log_path), *args]
        return await run(self._as_owner(argv), timeout=timeout + 10)

    async def start(self) -> None:
        if not self.data.exists():
            initdb = [str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres"]
            await run(
                self._as_owner([*initdb, "-A", "trust", "-E", "UTF8", "--no-sync"]), timeout=120
            )
        await self._pg_ctl("-w", "-t", str(int(START_TIMEOUT_S)), "-o", self._options(), "start")

    async def restart(self) -> None:
        await self._pg_ctl(
            "-w", "-t", str(int(START_TIMEOUT_S)), "-m", "fast", "-o", self._options(), "restart"
        )

    async def version(self) -> str:
        connection = await asyncpg.connect(self.dsn, timeout=10)
        try:
            return str(await connection.fetchval("SHOW server_version"))
        finally:
            await connection.close()

    async def stop(self) -> None:
        # By its pid file, not by what we think we started: a start that timed out
        # may still have left a server running.
        if not (self.data / "postmaster.pid").exists():
            return
        try:
            await self._pg_ctl("-w", "-t", "30", "-m", "immediate", "stop", timeout=30)
        except (HarnessError, TimeoutError):
            self._kill_postmaster()

    def _kill_postmaster(self) -> None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((self.data / "postmaster.pid").read_text().splitlines()[0])
            os.kill(pid, signal.SIGKILL)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


class Redis:
    """A redis-server without persistence: a restart loses every queued job, the worst
    case for the queue (the inbox in PostgreSQL must make up for it)."""

    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.dir = root / "redis"
        self.dir.mkdir()
        self.process: Process | None = None
        self.log_path = root / "redis.log"

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    async def start(self) -> None:
        argv = ["redis-server", "--port", str(self.port), "--bind", LOOPBACK]
        argv += ["--save", "", "--appendonly", "no", "--dir", str(self.dir)]
        self.process = Process("redis", argv, clean_env({}), self.log_path)
        await self.process.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if not self.process.alive():
                raise HarnessError(f"redis-server exited:\n{self.process.tail()}")
            client: Any = aioredis.Redis.from_url(self.url, socket_timeout=2)
            try:
                if await client.ping():
                    return
            except (OSError, aioredis.RedisError):
                pass
            finally:
                await client.aclose()
            await asyncio.sleep(0.1)
        raise HarnessError(f"redis-server did not answer within {START_TIMEOUT_S:.0f} s")

    async def stop(self) -> None:
        if self.process is not None:
            await self.process.stop()

    async def restart(self, down_s: float) -> None:
        await self.stop()
        await asyncio.sleep(down_s)
        await self.start()

    async def version(self) -> str:
        client: Any = aioredis.Redis.from_url(self.url)
        try:
            return str((await client.info("server")).get("redis_version", "?"))
        finally:
            await client.aclose()


@dataclass
class Tenant:
    id: str
    slug: str
    key: str


class Stack:
    """The production shape on servers of its own: PostgreSQL, Redis, one api, one
    scheduler and one worker (replaceable: ``kill_worker``, ``start_worker``)."""

    def __init__(self, *, worker_threads: int = 4, sweep_after_s: int = 2, log: Log = quiet):
        self.root = Path(tempfile.mkdtemp(prefix="opswatch-chaos-"))
        self.postgres = Postgres()
        self.redis = Redis(self.root)
        self.api_port = free_port()
        self.worker_threads = worker_threads
        self.sweep_after_s = sweep_after_s
        self.log = log
        self.processes: list[Process] = []
        self.worker: Process | None = None
        self.workers_started = 0

    @property
    def env(self) -> dict[str, str]:
        return clean_env(
            {
                "OPSWATCH_DATABASE_URL": self.postgres.url,
                "OPSWATCH_REDIS_URL": self.redis.url,
                "OPSWATCH_SECRET_KEY": SECRET_KEY,
                "OPSWATCH_DATA_DIR": str(self.root / "data"),
                # Jobs lost with Redis are swept up within seconds, not a minute.
                "OPSWATCH_INBOX_SWEEP_AFTER_SECONDS": str(self.sweep_after_s),
            }
        )

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.api_port}"

    def _process(self, name: str, *args: str) -> Process:
        argv = [sys.executable, "-m", "opswatch", *args]
        process = Process(name, argv, self.env, self.root / f"{name}.log")
        self.processes.append(process)
        return process

    async def start(self) -> None:
        await self.postgres.start()
        self.log(f"postgres on port {self.postgres.port} ({self.postgres.root})")
        await self.redis.start()
        self.log(f"redis on port {self.redis.port}")
        await run_cli(self.env, "db", "upgrade")
        api = self._process("api", "api", "--host", LOOPBACK, "--port", str(self.api_port))
        await api.start()
        await self._process("scheduler", "scheduler").start()
        await self.start_worker()
        await self.wait_ready(api)
        self.log(f"api on port {self.api_port}, logs in {self.root}")

    async def wait_ready(self, api: Process) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        async with httpx.AsyncClient(base_url=self.base_url, timeout=3) as client:
            while time.monotonic() < deadline:
                if not api.alive():
                    raise HarnessError(f"opswatch api exited:\n{api.tail()}")
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/readyz")).status_code == 200:
                        return
                await asyncio.sleep(0.2)
        raise HarnessError(f"opswatch api was not ready within {START_TIMEOUT_S:.0f} s")

    async def start_worker(self) -> None:
        self.workers_started += 1
        name = f"worker-{self.workers_started}"
        self.worker = self._process(name, "worker", "--threads", str(self.worker_threads))
        await self.worker.start()

    async def kill_worker(self) -> None:
        assert self.worker is not None
        await self.worker.kill()

    async def add_tenant(self, name: str) -> Tenant:
        slug = f"{name}-{uuid.uuid4().hex[:6]}"
        tenant = await run_cli(self.env, "tenant", "create", name, "--slug", slug, "--json")
        key = await run_cli(
            self.env, "apikey", "create", "--tenant", slug, "--name", "load", "--json"
        )
        return Tenant(id=tenant["id"], slug=slug, key=key["key"])

    def dead(self) -> list[str]:
        """The processes that should be running and are not."""
        current = [p for p in self.processes if not p.name.startswith("worker")]
        current += [self.worker] if self.worker is not None else []
        return [f"{p.name} exited {p.returncode}" for p in current if not p.alive()]

    def tracebacks(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for process in self.processes:
            with contextlib.suppress(OSError):
                text = process.log_path.read_text(errors="replace")
                found[process.name] = text.count("Traceback")
        return found

    def log_tails(self, lines: int = 40) -> str:
        parts = [f"--- {p.name} ---\n{p.tail(lines)}" for p in self.processes]
        parts.append(f"--- postgres ---\n{tail(self.postgres.log_path, lines)}")
        return "\n".join(parts)

    async def close(self, *, keep_files: bool = False) -> None:
        """Stop everything started, newest first, even after a failure halfway."""
        for process in reversed(self.processes):
            with contextlib.suppress(Exception):
                await process.stop()
        with contextlib.suppress(Exception):
            await self.redis.stop()
        with contextlib.suppress(Exception):
            await self.postgres.stop()
        if keep_files:
            return
        self.postgres.remove()
        shutil.rmtree(self.root, ignore_errors=True)


# ---------------------------------------------------------------------------
# Load and tally


@dataclass
class LoadConfig:
    rate: float = 80.0  # events offered per second
    duration_s: float = 10.0
    repeat_share: float = 0.2  # of events that repeat an earlier fingerprint
    concurrency: int = 32  # events in flight at most (a sender's connection pool)
    give_up_s: float = 60.0  # a sender stops retrying one event after this long
    retry_cap_s: float = 1.0  # longest wait between two tries of one event
    request_timeout_s: float = 10.0


@dataclass
class Tally:
    """What the senders saw; ``count`` adds what the database holds."""

    offered: int = 0
    accepted: int = 0
    rejected: int = 0  # a 4xx other than 429: the sender drops the event
    gave_up: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    five_xx: int = 0
    status_500: int = 0
    retry_after_missing: int = 0  # 503s without Retry-After
    event_ids: list[str] = field(default_factory=list)
    acked_attempts: set[str] = field(default_factory=set)
    acked_by_fingerprint: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)  # bodies of unexpected answers


class Load:
    """Offers ``rate`` events a second to the generic webhook, each a new fingerprint or
    (``repeat_share``) a repeat, and retries each on 5xx, 429 and connection errors
    with a capped exponential backoff, as Alertmanager does; a 4xx is final."""

    def __init__(self, url: str, key: str, config: LoadConfig, *, seed: int = 0) -> None:
        self.url = url
        self.key = key
        self.config = config
        self.tally = Tally()
        self.random = random.Random(seed)
        self.prefix = uuid.uuid4().hex[:8]
        self.recent: list[str] = []
        self._distinct = 0

    def _fingerprint(self) -> str:
        if self.recent and self.random.random() < self.config.repeat_share:
            return self.random.choice(self.recent)
        self._distinct += 1
        fingerprint = f"chaos-{self.prefix}-{self._distinct}"
        self.recent = [*self.recent[-49:], fingerprint]
        return fingerprint

    async def run(
        self,
        fault: Callable[[], Awaitable[None]] | None = None,
        fault_at_s: float = 0.0,
        log: Log = quiet,
    ) -> float:
        """Offer the load (and run ``fault`` ``fault_at_s`` into it); the fault's
        duration in seconds."""
        config = self.config
        limits = httpx.Limits(
            max_connections=config.concurrency, max_keepalive_connections=config.concurrency
        )
        slots = asyncio.Semaphore(config.concurrency)
        tasks: set[asyncio.Task[None]] = set()
        fault_took = 0.0

        async def timed_fault() -> None:
            nonlocal fault_took
            assert fault is not None
            await asyncio.sleep(fault_at_s)
            log("fault starts")
            began = time.monotonic()
            await fault()
            fault_took = time.monotonic() - began
            log(f"fault over after {fault_took:.1f} s")

        async def one(client: httpx.AsyncClient, fingerprint: str) -> None:
            try:
                await self._deliver(client, fingerprint)
            finally:
                slots.release()

        async with httpx.AsyncClient(timeout=config.request_timeout_s, limits=limits) as client:
            fault_task = asyncio.create_task(timed_fault()) if fault is not None else None
            try:
                started = time.monotonic()
                total = int(config.rate * config.duration_s)
                for index in range(total):
                    delay = started + index / config.rate - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    await slots.acquire()
                    task = asyncio.create_task(one(client, self._fingerprint()))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                if tasks:
                    await asyncio.gather(*tasks)
                if fault_task is not None:
                    await fault_task
            finally:
                for pending in [*tasks, *([fault_task] if fault_task else [])]:
                    pending.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                if fault_task is not None:
                    await asyncio.gather(fault_task, return_exceptions=True)
        return fault_took

    async def _deliver(self, client: httpx.AsyncClient, fingerprint: str) -> None:
        tally, config = self.tally, self.config
        tally.offered += 1
        started = time.monotonic()
        backoff = 0.05
        while True:
            attempt = uuid.uuid4().hex
            body = {
                "title": f"chaos {fingerprint}",
                "fingerprint": fingerprint,
                "severity": "warning",
                "source": "chaos",
                # Which try this is: the tally tells stored-but-unanswered tries apart.
                "labels": {"attempt": attempt},
            }
            try:
                response = await client.post(self.url, json=body, headers={"X-API-Key": self.key})
            except httpx.TransportError as error:
                tally.statuses[type(error).__name__] += 1
            else:
                code = response.status_code
                tally.statuses[str(code)] += 1
                if code == 202:
                    tally.accepted += 1
                    tally.event_ids += response.json()["events"]
                    tally.acked_attempts.add(attempt)
                    tally.acked_by_fingerprint[fingerprint] += 1
                    return
                if code >= 500:
                    tally.five_xx += 1
                    tally.status_500 += code == 500
                    if code == 503 and "retry-after" not in response.headers:
                        tally.retry_after_missing += 1
                if code not in (429, 503) and len(tally.samples) < 5:
                    tally.samples.append(f"{code}: {response.text[:300]}")
                if 400 <= code < 500 and code != 429:
                    tally.rejected += 1
                    return
            if time.monotonic() - started > config.give_up_s:
                tally.gave_up += 1
                return
            await asyncio.sleep(backoff * self.random.uniform(0.5, 1.0))
            backoff = min(backoff * 2, config.retry_cap_s)


@dataclass
class Report:
    scenario: str
    offered: int
    accepted: int
    processed: int
    lost: int
    doubled: int
    stored_unacked: int  # stored although the sender heard no 202 (it then retried)
    rejected: int
    gave_up: int
    five_xx: int
    status_500: int
    retry_after_missing: int
    statuses: dict[str, int]
    fault_s: float  # the faults' own durations, added up
    load_s: float
    settle_s: float  # from the end of the load until every accepted event was processed
    dead: list[str]
    tracebacks: dict[str, int]
    samples: list[str]

    def problems(self) -> list[str]:
        found = [f"{name}: {n}" for name, n in self.counts().items() if n]
        return found + self.dead

    def counts(self) -> dict[str, int]:
        """What must be zero."""
        return {
            "lost": self.lost,
            "doubled": self.doubled,
            "HTTP 500": self.status_500,
            "503 without Retry-After": self.retry_after_missing,
            "not accepted (rejected or given up)": self.rejected + self.gave_up,
        }

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


async def pending_of(dsn: str, ids: list[str]) -> int | None:
    """How many of the events are still unprocessed; None while the database is away."""
    try:
        connection = await asyncpg.connect(dsn, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return None
    try:
        pending: int = await connection.fetchval(
            "SELECT count(*) FROM alert_event WHERE id = ANY($1::uuid[]) AND processed_at IS NULL",
            ids,
        )
        return pending
    finally:
        await connection.close()


async def count(
    stack: Stack,
    tenant: Tenant,
    load: Load,
    *,
    scenario: str,
    fault_s: float,
    load_s: float,
    settle_timeout_s: float,
) -> Report:
    """Wait (bounded) until every accepted event is processed, then compare what the
    senders heard with what the database holds."""
    tally = load.tally
    began = time.monotonic()
    while time.monotonic() - began < settle_timeout_s:
        if await pending_of(stack.postgres.dsn, tally.event_ids) == 0:
            break
        await asyncio.sleep(0.5)
    settle_s = time.monotonic() - began
    connection = await asyncpg.connect(stack.postgres.dsn, timeout=10)
    try:
        rows = await connection.fetch(
            "SELECT id::text AS id, processed_at IS NOT NULL AS processed, outcome, "
            "normalized::jsonb -> 'labels' ->> 'attempt' AS attempt "
            "FROM alert_event WHERE tenant_id = $1::uuid",
            tenant.id,
        )
        occurrences = await connection.fetch(
            "SELECT fingerprint, sum(occurrences)::int AS n FROM alert "
            "WHERE tenant_id = $1::uuid GROUP BY fingerprint",
            tenant.id,
        )
    finally:
        await connection.close()
    by_id = {row["id"]: row for row in rows}
    done = [
        i for i in tally.event_ids if i in by_id and by_id[i]["processed"] and by_id[i]["outcome"]
    ]
    processed = sum(by_id[i]["outcome"] != "failed" for i in done)
    stored = {fp: row["n"] for fp, row in ((r["fingerprint"], r) for r in occurrences)}
    acked = tally.acked_by_fingerprint
    # The warm-up's fingerprint is not the load's.
    doubled = sum(max(0, n - acked[fp]) for fp, n in stored.items() if fp in acked)
    short = sum(max(0, n - stored.get(fp, 0)) for fp, n in acked.items())
    return Report(
        scenario=scenario,
        offered=tally.offered,
        accepted=tally.accepted,
        processed=processed,
        lost=max(tally.accepted - processed, short),
        doubled=doubled,
        stored_unacked=sum(
            1 for r in rows if r["attempt"] and r["attempt"] not in tally.acked_attempts
        ),
        rejected=tally.rejected,
        gave_up=tally.gave_up,
        five_xx=tally.five_xx,
        status_500=tally.status_500,
        retry_after_missing=tally.retry_after_missing,
        statuses=dict(sorted(tally.statuses.items())),
        fault_s=round(fault_s, 2),
        load_s=round(load_s, 2),
        settle_s=round(settle_s, 2),
        dead=stack.dead(),
        tracebacks=stack.tracebacks(),
        samples=tally.samples,
    )


# ---------------------------------------------------------------------------
# Scenarios


async def kill_worker(stack: Stack) -> None:
    """kill -9 mid-batch, and a new worker a second later (as a supervisor would)."""
    await stack.kill_worker()
    await asyncio.sleep(1.0)
    await stack.start_worker()


async def restart_redis(stack: Stack) -> None:
    """Down for two seconds, back empty: every queued job is gone."""
    await stack.redis.restart(down_s=2.0)


async def restart_postgres(stack: Stack) -> None:
    await stack.postgres.restart()


SCENARIOS: dict[str, Callable[[Stack], Awaitable[None]]] = {
    "kill-worker": kill_worker,
    "restart-redis": restart_redis,
    "restart-postgres": restart_postgres,
}


async def warm_up(stack: Stack, tenant: Tenant, timeout_s: float = 60.0) -> None:
    """One alert end to end before the load: the worker is up and the tenant works."""
    url = f"{stack.base_url}/api/v1/webhooks/generic"
    body = {"title": "warm-up", "fingerprint": f"warm-up-{uuid.uuid4().hex[:6]}"}
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(url, json=body, headers={"X-API-Key": tenant.key})
        if response.status_code != 202:
            raise HarnessError(f"warm-up answered {response.status_code}: {response.text}")
        ids = response.json()["events"]
    while time.monotonic() < deadline:
        if await pending_of(stack.postgres.dsn, ids) == 0:
            return
        await asyncio.sleep(0.2)
    raise HarnessError(f"the warm-up alert was not processed within {timeout_s:.0f} s")


async def run_scenario(
    stack: Stack,
    name: str,
    config: LoadConfig,
    *,
    fault_at_s: float,
    faults: int = 1,
    every_s: float = 0.0,
    settle_timeout_s: float = 60.0,
    log: Log = quiet,
) -> Report:
    """``faults`` faults of the scenario during the load: the first ``fault_at_s`` into
    it, the next ``every_s`` after the previous one ended."""
    tenant = await stack.add_tenant(name)
    await warm_up(stack, tenant)
    load = Load(f"{stack.base_url}/api/v1/webhooks/generic", tenant.key, config)
    log(f"{name}: {config.rate:g} events/s for {config.duration_s:g} s, fault at {fault_at_s:g} s")

    took: list[float] = []

    async def inject() -> None:
        for index in range(faults):
            if index:
                await asyncio.sleep(every_s)
                log(f"{name}: fault {index + 1} of {faults}")
            began = time.monotonic()
            await SCENARIOS[name](stack)
            took.append(time.monotonic() - began)

    began = time.monotonic()
    await load.run(inject, fault_at_s, log=log)
    load_s = time.monotonic() - began
    report = await count(
        stack,
        tenant,
        load,
        scenario=name,
        fault_s=sum(took),
        load_s=load_s,
        settle_timeout_s=settle_timeout_s,
    )
    log(f"{name}: {report.accepted}/{report.offered} accepted, {report.processed} processed")
    return report


COLUMNS = [
    ("scenario", "scenario"),
    ("offered", "offered"),
    ("accepted", "accepted"),
    ("processed", "processed"),
    ("lost", "lost"),
    ("doubled", "doubled"),
    ("stored, no 202", "stored_unacked"),
    ("5xx", "five_xx"),
    ("500", "status_500"),
    ("fault s", "fault_s"),
    ("settle s", "settle_s"),
]


def table(reports: list[Report]) -> str:
    """A Markdown table of the reports, then each one's statuses by code."""
    lines = [
        "| " + " | ".join(title for title, _ in COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for report in reports:
        values = report.to_json()
        lines.append("| " + " | ".join(str(values[key]) for _, key in COLUMNS) + " |")
    lines.append("")
    for report in reports:
        codes = ", ".join(f"{code}: {n}" for code, n in report.statuses.items())
        lines.append(f"- {report.scenario}: statuses {codes}")
        if report.problems():
            lines.append(f"  - problems: {'; '.join(report.problems())}")
    return "\n".join(lines)
