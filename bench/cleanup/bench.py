"""The whole run: database, seed, plans, servers, phases, cleanup, checks."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import secrets
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from common import (
    REPO,
    create_database,
    drop_database,
    machine,
    say,
    with_database,
)
from ingest import (
    LOOPBACK,
    MAX_IN_FLIGHT,
    REQUEST_TIMEOUT_S,
    WEBHOOK_PATH,
    BenchError,
    CpuMeter,
    Poster,
    Service,
    api_command,
    clean_env,
    free_port,
    log_issues,
    redis_cleanup,
    redis_version,
    run_cli,
    speed_check,
    wait_http_ok,
    wait_log_line,
)

from .base import CLEANUP_APPLICATION, iso
from .checks import LOAD_INBOX_TIMES, census, checks_of
from .cleanup_run import cli_offers, run_cleanup
from .figures import PhaseSpan, cleanup_progress, crossing, phase_figures
from .load import SteadyLoad
from .plans import explain_after, explain_cleanup
from .sampling import BACKLOG_SQL, Sampler
from .seed import Category, Plan, seed


def code_facts() -> dict[str, Any]:
    """What exactly was measured: the cleanup module's hash and the migrations present."""
    source = REPO / "opswatch" / "audit" / "cleanup.py"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:12] if source.exists() else None
    migrations = sorted(p.stem for p in (REPO / "opswatch" / "migrations").glob("0*.py"))
    return {"cleanup_py_sha256": digest, "migrations": migrations}


async def server_settings(connection: asyncpg.Connection) -> dict[str, str]:
    names = (
        "autovacuum",
        "shared_buffers",
        "work_mem",
        "maintenance_work_mem",
        "max_wal_size",
        "synchronous_commit",
        "fsync",
    )
    return {
        name: str(await connection.fetchval("SELECT current_setting($1)", name)) for name in names
    }


async def wait_drained(
    connection: asyncpg.Connection, timeout: float, lock: asyncio.Lock
) -> float | None:
    """Seconds until no inbox event was waiting; None when it did not happen in time."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        async with lock:
            backlog = int(await connection.fetchval(BACKLOG_SQL))
        if backlog == 0:
            return round(time.monotonic() - began, 1)
        await asyncio.sleep(0.5)
    return None


async def run_bench(args: argparse.Namespace, command: str) -> dict[str, Any]:
    as_of = datetime.now(UTC).replace(microsecond=0)
    plan = Plan.of(args.alerts, args.audit)
    admin_url = with_database(args.postgres_url, "postgres")
    name = f"opswatch_bench_{secrets.token_hex(6)}"
    namespace = f"opswatch_bench_{secrets.token_hex(6)}"
    tmp = Path(tempfile.mkdtemp(prefix="opswatch-bench-cleanup-"))
    report: dict[str, Any] = {"command": command, "as_of": iso(as_of), **code_facts()}
    async with contextlib.AsyncExitStack() as stack:
        if args.keep:
            stack.callback(say, f"kept database {name} and the logs in {tmp}")
        else:
            stack.callback(shutil.rmtree, tmp, True)
        version = await create_database(admin_url, name)
        if not args.keep:
            stack.push_async_callback(drop_database, admin_url, name)
        stack.push_async_callback(redis_cleanup, args.redis_url, namespace)
        dsn = with_database(args.postgres_url, name, "postgres")
        port = free_port()
        env = clean_env(
            {
                "OPSWATCH_DATA_DIR": str(tmp / "data"),
                "OPSWATCH_DATABASE_URL": dsn,
                "OPSWATCH_REDIS_URL": args.redis_url,
                "OPSWATCH_REDIS_NAMESPACE": namespace,
                "OPSWATCH_SECRET_KEY": secrets.token_urlsafe(48),
                "OPSWATCH_HOST": LOOPBACK,
                "OPSWATCH_PORT": str(port),
            }
        )
        cleanup_env = {
            **env,
            "OPSWATCH_DATABASE_URL": f"{dsn}?application_name={CLEANUP_APPLICATION}",
        }
        if args.batch is not None and not await cli_offers(env, "--batch"):
            raise BenchError("--batch: `opswatch cleanup` has no --batch option; leave it out")
        await run_cli(env, "db", "upgrade")
        tenant = await run_cli(env, "tenant", "create", "Bench", "--slug", "bench", "--json")
        key = await run_cli(
            env, "apikey", "create", "--tenant", "bench", "--name", "load", "--json"
        )
        say(f"tenant {tenant['slug']} and an API key created")

        connection = await asyncpg.connect(dsn, timeout=10)
        stack.push_async_callback(connection.close)
        tenant_id = await connection.fetchval("SELECT id FROM tenant WHERE slug = 'bench'")
        report["machine"] = machine(version)
        report["machine"]["redis"] = await redis_version(args.redis_url)
        report["postgres_settings"] = await server_settings(connection)
        report["seeding"] = await seed(connection, tenant_id, as_of, plan)
        report["seeded"] = {k: asdict(v) for k, v in asdict_plan(plan).items()}

        alerts_cutoff = as_of - timedelta(days=90)
        audit_cutoff = as_of - timedelta(days=365)
        say("explaining the cleanup's statements (executed, rolled back)")
        report["plans_before"] = await explain_cleanup(
            connection, tenant_id, alerts_cutoff, audit_cutoff
        )
        load_prefix = f"load-{secrets.token_hex(3)}-"
        # Nothing but the load and the cleanup writes from here on: the seeded
        # categories and the audit log's non-load entries are counted now.
        census_before = await census(connection, tenant_id, load_prefix, audit_cutoff)

        # A fixed pure-Python loop, before anything of ours runs: on a shared machine
        # a slower figure here explains slower figures everywhere.
        report["speed_check_ms"] = await asyncio.to_thread(speed_check)
        worker = Service(
            "opswatch worker",
            [sys.executable, "-m", "opswatch", "worker", "--threads", str(args.worker_threads)],
            env,
            tmp / "worker.log",
        )
        api = Service(
            "opswatch api",
            api_command(port, args.api_workers),
            env,
            tmp / "api.log",
        )
        stack.push_async_callback(api.stop)
        stack.push_async_callback(worker.stop)
        await worker.start()
        await api.start()
        connector = aiohttp.TCPConnector(limit=MAX_IN_FLIGHT)
        session = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
        )
        stack.push_async_callback(session.close)
        base = f"http://{LOOPBACK}:{port}"
        await wait_http_ok(session, base + "/readyz", api)
        await wait_log_line(worker, "worker running")
        report["processes"] = (
            f"opswatch api --workers {args.api_workers} + "
            f"opswatch worker --threads {args.worker_threads}"
        )

        meter = CpuMeter({"api": api.pgid, "worker": worker.pgid}, database=name)
        own_backend = int(await connection.fetchval("SELECT pg_backend_pid()"))
        sampler = Sampler(connection, meter, own_backend, args.sample_every)
        sampler_task = asyncio.get_running_loop().create_task(sampler.run())
        stack.callback(sampler_task.cancel)  # on failure; normally stopped below
        poster = Poster(session, base + WEBHOOK_PATH, str(key["key"]))
        load = SteadyLoad(poster, args.rate, load_prefix)
        spans: list[PhaseSpan] = []

        def begin(phase: str) -> PhaseSpan:
            now = time.monotonic()
            if spans:
                spans[-1].end = now
            spans.append(PhaseSpan(phase, now))
            say(f"phase {phase}")
            return spans[-1]

        if args.idle_seconds > 0:
            begin("idle")  # CPU of the servers with no load: polling, ticking
            await asyncio.sleep(args.idle_seconds)
        begin("warm-up")
        load_started_wall = time.time()
        load_task = asyncio.get_running_loop().create_task(load.run())
        stack.callback(load_task.cancel)
        await asyncio.sleep(args.warmup_seconds)
        begin("baseline")
        await asyncio.sleep(args.baseline_seconds)
        start_progress = await sampler.take()
        begin("during")
        cleanup = await run_cleanup(
            cleanup_env, as_of, args.batch, tmp / "cleanup.log", args.cleanup_timeout, sampler
        )
        end_progress = await sampler.take()
        if args.after_seconds > 0:
            begin("after")
            await asyncio.sleep(args.after_seconds)
        spans[-1].end = time.monotonic()
        load.stop()
        await load_task
        sampler.stop()
        await sampler_task
        say(f"load stopped: {len(load.sent):,} requests sent; waiting for the backlog")
        drained = await wait_drained(connection, args.drain_timeout, sampler.lock)

        rows = await connection.fetch(
            LOAD_INBOX_TIMES,
            tenant_id,
            datetime.fromtimestamp(load_started_wall - 5, UTC),
            load.prefix + "%",
        )
        inbox = {
            r["fingerprint"]: (
                r["received_at"].timestamp(),
                r["processed_at"].timestamp() if r["processed_at"] else None,
            )
            for r in rows
        }
        # "during" once more in two parts: until the first alert was deleted (the
        # command starting: interpreter, imports, connecting, the kept count), and
        # the deleting itself. The first deletion is sampled, so up to ~2 s late.
        during = next(span for span in spans if span.name == "during")
        first_delete = crossing(
            [p for p in sampler.progress if p.at >= start_progress.at],
            "alert",
            start_progress.deleted.get("alert", 0),
            1,
        )
        if first_delete is not None and during.start < first_delete < during.end:
            index = spans.index(during) + 1
            spans[index:index] = [
                PhaseSpan("during, start-up", during.start, first_delete),
                PhaseSpan("during, deleting", first_delete, during.end),
            ]
        phases = [
            phase_figures(
                span,
                load.sent,
                load,
                inbox,
                sampler.cores(span.start, span.end),
                sampler.server(span.start, span.end),
            )
            for span in spans
            if span.name != "warm-up"
        ]
        census_after = await census(connection, tenant_id, load.prefix, audit_cutoff)
        report["plans_after"] = await explain_after(
            connection, tenant_id, alerts_cutoff, audit_cutoff
        )
        accepted = sum(1 for s in load.sent if s.status == "202")
        unprocessed = sum(
            1
            for index, s in enumerate(load.sent)
            if s.status == "202" and (inbox.get(load.fingerprint(index)) or (0, None))[1] is None
        )
        deleted = cleanup.report or {}
        rows_removed = sum(
            int(deleted.get(k, 0))
            for k in (
                "deleted_alerts",
                "deleted_escalation_events",
                "deleted_inbox_events",
                "deleted_notifications",
                "archived_audit_entries",
            )
        )
        report["cleanup"] = {
            "wall_s": cleanup.wall_s,
            "exit_code": cleanup.exit_code,
            "report": cleanup.report,
            "rows_removed": rows_removed,
            "rows_per_s": round(rows_removed / cleanup.wall_s) if cleanup.wall_s else None,
            "alerts_per_s": round(int(deleted.get("deleted_alerts", 0)) / cleanup.wall_s)
            if cleanup.wall_s
            else None,
            "batch": args.batch,
            "progress": cleanup_progress(
                sampler.progress,
                start_progress,
                end_progress,
                int(deleted.get("deleted_alerts", 0)),
            ),
            "stderr_tail": cleanup.stderr_tail if cleanup.exit_code else "",
        }
        report["load"] = {
            "rate": args.rate,
            "sent": len(load.sent),
            "accepted": accepted,
            "skipped": load.skipped,
            "drained_after_s": drained,
        }
        report["phases"] = phases
        report["census_before"] = census_before
        report["census_after"] = census_after
        report["log"] = log_issues([api, worker])
        checks = checks_of(plan, census_before, census_after, cleanup.report, accepted, unprocessed)
        report["checks"] = [{**asdict(c), "ok": c.ok} for c in checks]
        report["failed_checks"] = [c.name for c in checks if not c.ok]
        if cleanup.exit_code:
            report["failed_checks"].insert(0, f"opswatch cleanup exited {cleanup.exit_code}")
            say(f"opswatch cleanup failed:\n{cleanup.stderr_tail}")
    return report


def asdict_plan(plan: Plan) -> dict[str, Category]:
    return {name: getattr(plan, name) for name in Plan.__dataclass_fields__}
