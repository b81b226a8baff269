"""The shapes: embedded, production and the one-INSERT baseline, each started,
measured and removed."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import asyncpg

from .base import LOOPBACK, REPO, BenchError, say
from .counting import PostgresCounts, SqliteCounts
from .cpu import CpuMeter, speed_check
from .load import LoadGenerator, Poster, alert_body, open_loop
from .noisy import DeadTelephony
from .phases import Target, one_line, run_phases
from .processes import (
    PostgresAdmin,
    Service,
    api_command,
    clean_env,
    free_port,
    log_issues,
    redis_cleanup,
    run_cli,
    wait_http_ok,
    wait_log_line,
)
from .profile import Profiler


@dataclass
class Run:
    args: argparse.Namespace
    tmp: Path
    session: aiohttp.ClientSession
    gen: LoadGenerator
    profiler: Profiler | None = None
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(48))


async def provision(env: dict[str, str]) -> tuple[str, str]:
    """Tenant, API key and user token through the CLI, as an operator would."""
    await run_cli(env, "db", "upgrade")
    await run_cli(env, "tenant", "create", "Bench", "--slug", "bench", "--json")
    key = await run_cli(env, "apikey", "create", "--tenant", "bench", "--name", "bench", "--json")
    user = await run_cli(
        env,
        "user",
        "create",
        "--tenant",
        "bench",
        "--email",
        "bench@example.com",
        "--name",
        "Bench",
        "--role",
        "responder",
        "--json",
    )
    return str(key["key"]), str(user["token"])


PAGER_QUEUES = ("escalation", "slack", "default")  # --worker-split: the second worker's


async def dead_telephony(
    stack: contextlib.AsyncExitStack, args: argparse.Namespace, env: dict[str, str]
) -> DeadTelephony | None:
    """For the noisy phase: the provider that is down, started before the servers
    (they read ``OPSWATCH_TWILIO_API_URL`` at start)."""
    if "noisy" not in args.phases:
        return None
    telephony = DeadTelephony(args.noisy_provider)
    env["OPSWATCH_TWILIO_API_URL"] = await telephony.start()
    stack.push_async_callback(telephony.stop)
    return telephony


async def run_embedded(run: Run) -> dict[str, Any]:
    data_dir = run.tmp / "embedded"
    data_dir.mkdir()
    sqlite_path = data_dir / "opswatch.sqlite3"
    port = free_port()
    env = clean_env(
        {
            "OPSWATCH_DATA_DIR": str(data_dir),
            "OPSWATCH_DATABASE_URL": f"sqlite://{sqlite_path}",
            "OPSWATCH_SECRET_KEY": run.secret_key,
            "OPSWATCH_HOST": LOOPBACK,
            "OPSWATCH_PORT": str(port),
        }
    )
    async with contextlib.AsyncExitStack() as stack:
        telephony = await dead_telephony(stack, run.args, env)
        key, token = await provision(env)
        serve = Service(
            "opswatch serve",
            [sys.executable, "-m", "opswatch", "serve", "--host", LOOPBACK, "--port", str(port)],
            env,
            run.tmp / "embedded-serve.log",
        )
        stack.push_async_callback(serve.stop)
        await serve.start()
        base = f"http://{LOOPBACK}:{port}"
        await wait_http_ok(run.session, base + "/readyz", serve)
        db = SqliteCounts(sqlite_path)
        stack.push_async_callback(db.close)
        cpu = CpuMeter({"serve": serve.pgid})
        target = Target("embedded", base, key, token, db, cpu, run.profiler, env, telephony)
        try:
            phases = await run_phases(target, run.gen, run.args)
            return {"processes": "opswatch serve", "log": log_issues([serve]), **phases}
        except BaseException:
            say(f"opswatch serve log:\n{serve.log_tail()}")
            raise


async def run_production(run: Run) -> dict[str, Any]:
    args = run.args
    admin = PostgresAdmin(args.postgres_url)
    if urlsplit(args.redis_url).hostname not in (LOOPBACK, "localhost"):
        raise BenchError(f"--redis-url must point at {LOOPBACK}")
    namespace = f"opswatch_bench_{secrets.token_hex(6)}"
    data_dir = run.tmp / "production"
    data_dir.mkdir()
    port = free_port()
    async with contextlib.AsyncExitStack() as stack:
        name, dsn = await admin.create()
        stack.push_async_callback(admin.drop, name)
        stack.push_async_callback(redis_cleanup, args.redis_url, namespace)
        env = clean_env(
            {
                "OPSWATCH_DATA_DIR": str(data_dir),
                "OPSWATCH_DATABASE_URL": dsn + (f"?{args.db_params}" if args.db_params else ""),
                "OPSWATCH_REDIS_URL": args.redis_url,
                "OPSWATCH_REDIS_NAMESPACE": namespace,
                "OPSWATCH_SECRET_KEY": run.secret_key,
                "OPSWATCH_HOST": LOOPBACK,
                "OPSWATCH_PORT": str(port),
            }
        )
        telephony = await dead_telephony(stack, args, env)
        key, token = await provision(env)
        api = Service(
            "opswatch api",
            api_command(port, args.api_workers),
            env,
            run.tmp / "production-api.log",
        )
        worker_argv = [sys.executable, "-m", "opswatch", "worker"]
        worker_argv += ["--threads", str(args.worker_threads)]
        worker = Service(
            "opswatch worker",
            worker_argv + (["--queues", "ingest"] if args.worker_split else []),
            env,
            run.tmp / "production-worker.log",
        )
        stack.push_async_callback(api.stop)
        stack.push_async_callback(worker.stop)
        services = [api, worker]
        if args.worker_split:
            # As docker-compose.yml deploys it: paging, Slack and housekeeping apart.
            pager = Service(
                "opswatch pager",
                [*worker_argv, "--queues", *PAGER_QUEUES],
                env,
                run.tmp / "production-pager.log",
            )
            stack.push_async_callback(pager.stop)
            services.append(pager)
            await pager.start()
        if telephony is not None:
            # Deployed next to them: its periodic jobs tick the engine and resume parked pages.
            scheduler = Service(
                "opswatch scheduler",
                [sys.executable, "-m", "opswatch", "scheduler"],
                env,
                run.tmp / "production-scheduler.log",
            )
            stack.push_async_callback(scheduler.stop)
            services.append(scheduler)
            await scheduler.start()
        await worker.start()
        await api.start()
        base = f"http://{LOOPBACK}:{port}"
        await wait_http_ok(run.session, base + "/readyz", api)
        for started in services[1:]:
            if started.name != "opswatch scheduler":
                await wait_log_line(started, "worker running")
        db = await PostgresCounts.open(dsn)
        stack.push_async_callback(db.close)
        groups = {s.name.removeprefix("opswatch "): s.pgid for s in services}
        cpu = CpuMeter(groups, database=name)
        target = Target("production", base, key, token, db, cpu, run.profiler, env, telephony)
        processes = (
            f"opswatch api --workers {args.api_workers} + "
            f"opswatch worker --threads {args.worker_threads}"
            + (
                f" --queues ingest + opswatch worker --threads {args.worker_threads} --queues "
                + " ".join(PAGER_QUEUES)
                if args.worker_split
                else ""
            )
            + (f", database URL ?{args.db_params}" if args.db_params else "")
            + (" + opswatch scheduler (noisy phase)" if telephony is not None else "")
        )
        try:
            phases = await run_phases(target, run.gen, args)
            return {"processes": processes, "log": log_issues(services), **phases}
        except BaseException:
            say(f"opswatch api log:\n{api.log_tail()}")
            say(f"opswatch worker log:\n{worker.log_tail()}")
            raise


async def run_baseline(run: Run) -> dict[str, Any]:
    args = run.args
    admin = PostgresAdmin(args.postgres_url)
    port = free_port()
    async with contextlib.AsyncExitStack() as stack:
        name, dsn = await admin.create()
        stack.push_async_callback(admin.drop, name)
        env = clean_env({"BENCH_DATABASE_URL": dsn, "BENCH_POOL_SIZE": str(args.baseline_pool)})
        server = Service(
            "baseline app",
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bench.baseline_app:app",
                "--app-dir",
                str(REPO),
                "--host",
                LOOPBACK,
                "--port",
                str(port),
                "--workers",
                str(args.api_workers),
                "--log-level",
                "warning",
            ],
            env,
            run.tmp / "baseline.log",
        )
        stack.push_async_callback(server.stop)
        await server.start()
        base = f"http://{LOOPBACK}:{port}"
        await wait_http_ok(run.session, base + "/healthz", server)
        connection = await asyncpg.connect(dsn, timeout=10)
        stack.push_async_callback(connection.close)
        cpu = CpuMeter({"baseline": server.pgid}, database=name)
        warm = Poster(run.session, base + "/insert", None)
        await open_loop(warm, lambda i: alert_body(f"warmup-{i}"), rate=200, count=300)
        results: dict[str, Any] = {
            "processes": f"uvicorn bench.baseline_app --workers {args.api_workers}, "
            f"asyncpg pool {args.baseline_pool}"
        }
        for phase, path, mode in (("insert", "/insert", "distinct"), ("upsert", "/upsert", "same")):
            say(f"baseline: phase {phase}")
            prefix = f"{phase}-{secrets.token_hex(4)}"
            reference_ms = speed_check()
            rows_before = await connection.fetchval("SELECT count(*) FROM bench_event")
            cpu_start = cpu.snapshot()
            started = time.perf_counter()
            result = await run.gen.closed(base + path, None, prefix, mode, args.duration)
            elapsed = time.perf_counter() - started
            cpu_end = cpu.snapshot()
            await asyncio.sleep(0.2)
            figures: dict[str, Any] = {
                "load": asdict(result),
                "accepted_per_s": round(result.accepted_per_s, 1),
                "speed_check_ms": reference_ms,
                "cpu_cores_load": CpuMeter.cores(cpu_start, cpu_end, elapsed),
            }
            if mode == "same":
                figures["occurrences"] = await connection.fetchval(
                    "SELECT occurrences FROM bench_alert WHERE fingerprint = $1", prefix
                )
            else:
                rows = await connection.fetchval("SELECT count(*) FROM bench_event")
                figures["stored_events"] = rows - rows_before
            results[phase] = figures
            say(f"baseline: {phase}: {one_line(figures)}")
        return results
