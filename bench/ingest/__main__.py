"""The command line: ``python -m bench.ingest`` (see the package's docstring)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import signal
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from common import run_main

from . import noisy
from .base import (
    DEFAULT_POSTGRES_URL,
    DEFAULT_REDIS_URL,
    EMBEDDED_TARGET,
    EXTRA_PHASES,
    LATENCY_TARGET_RATE,
    MAX_IN_FLIGHT,
    PHASES,
    REQUEST_TIMEOUT_S,
    STORM_TARGET,
    SUSTAINED_TARGET,
    BenchError,
    say,
)
from .load import LoadGenerator
from .processes import PostgresAdmin, redis_version
from .profile import Profiler
from .report import machine, render, targets
from .shapes import Run, run_baseline, run_embedded, run_production


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest",
        description="Ingest benchmark for OpsWatch (see bench/ingest/__init__.py).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--shape", choices=["embedded", "production", "baseline", "all"], default="all"
    )
    parser.add_argument(
        "--phases",
        type=lambda raw: [p.strip() for p in raw.split(",") if p.strip()],
        default=list(PHASES),
        help="comma-separated, of: " + ",".join(PHASES + EXTRA_PHASES),
    )
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per load phase")
    parser.add_argument("--concurrency", type=int, default=64, help="closed-loop connections")
    parser.add_argument("--rate", type=float, default=LATENCY_TARGET_RATE, help="latency run /s")
    parser.add_argument("--latency-duration", type=float, default=10.0)
    parser.add_argument(
        "--sustain-rate",
        type=float,
        default=None,
        help=f"open-loop distinct /s (default {SUSTAINED_TARGET:.0f} production, "
        f"{EMBEDDED_TARGET:.0f} embedded)",
    )
    parser.add_argument("--storm-rate", type=float, default=STORM_TARGET)
    parser.add_argument("--storm-duration", type=float, default=10.0)
    parser.add_argument("--drain-timeout", type=float, default=300.0, help="seconds per phase")
    parser.add_argument(
        "--client",
        choices=["wrk", "python"],
        default="wrk" if shutil.which("wrk") else "python",
        help="closed-loop load generator",
    )
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument(
        "--api-workers", type=int, default=1, help="uvicorn workers (api, baseline)"
    )
    parser.add_argument("--worker-threads", type=int, default=8, help="opswatch worker --threads")
    parser.add_argument(
        "--worker-split",
        action="store_true",
        help="production: two workers, --queues ingest and --queues escalation slack default "
        "(as docker-compose.yml runs them), instead of one taking every queue",
    )
    parser.add_argument("--baseline-pool", type=int, default=20, help="baseline asyncpg pool")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument(
        "--db-params",
        default="",
        metavar="QUERY",
        help="appended to OpsWatch's PostgreSQL URL, e.g. maxsize=20 (Tortoise's pool size, "
        "default 5): for experiments; the report names it",
    )
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    parser.add_argument("--keep-temp", action="store_true", help="keep logs and SQLite file")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="record py-spy profiles of the OpsWatch processes during each phase into DIR",
    )
    parser.add_argument("--py-spy", default=shutil.which("py-spy"), help="py-spy binary")
    noisy.add_arguments(parser)
    args = parser.parse_args(argv)
    unknown = [p for p in args.phases if p not in PHASES + EXTRA_PHASES]
    if unknown or not args.phases:
        parser.error(f"--phases: unknown {unknown}; choose from {','.join(PHASES + EXTRA_PHASES)}")
    noisy.check_arguments(parser, args)
    for name in ("duration", "rate", "latency_duration", "storm_rate", "storm_duration"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    if args.profile is not None and not args.py_spy:
        parser.error("--profile needs py-spy: pip install py-spy (any venv), then --py-spy PATH")
    if args.concurrency < 1 or args.api_workers < 1 or args.worker_threads < 1:
        parser.error("--concurrency, --api-workers and --worker-threads must be at least 1")
    return args


async def main_async(args: argparse.Namespace, command: str) -> int:
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, task.cancel)

    shapes = ["baseline", "embedded", "production"] if args.shape == "all" else [args.shape]
    tmp = Path(tempfile.mkdtemp(prefix="opswatch-bench-"))
    report: dict[str, Any] = {
        "command": command,
        "concurrency": args.concurrency,
        "duration": args.duration,
        "shapes": {},
    }
    failed = False
    connector = aiohttp.TCPConnector(limit=MAX_IN_FLIGHT, force_close=False)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    try:
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            gen = LoadGenerator(args, session, tmp)
            report["client"] = gen.describe()
            pg_version = redis = None
            if set(shapes) & {"baseline", "production"}:
                with contextlib.suppress(OSError, asyncpg.PostgresError, TimeoutError):
                    pg_version = await PostgresAdmin(args.postgres_url).version()
            if "production" in shapes:
                with contextlib.suppress(Exception):
                    redis = await redis_version(args.redis_url)
            report["machine"] = machine(pg_version, redis)
            run = Run(args, tmp, session, gen)
            if args.profile is not None:
                run.profiler = Profiler(args.py_spy, args.profile)
            runners = {
                "baseline": run_baseline,
                "embedded": run_embedded,
                "production": run_production,
            }
            for shape in shapes:
                say(f"shape {shape}")
                try:
                    report["shapes"][shape] = await runners[shape](run)
                except Exception as error:  # report it, and go on with the next shape
                    failed = True
                    if not isinstance(error, BenchError):
                        say("".join(traceback.format_exception(error)))
                    say(f"{shape} failed: {error!r}")
                    first_line = (str(error).splitlines() or [repr(error)])[0]
                    report["shapes"][shape] = {"error": first_line[:300]}
        report["targets"] = targets(report)
        print(render(report))
        if args.json is not None:
            args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")
            say(f"wrote {args.json}")
    finally:
        if args.keep_temp:
            say(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = " ".join(["python", "-m", "bench.ingest", *(sys.argv[1:] if argv is None else argv)])
    return run_main(lambda: main_async(args, command), log=say)


if __name__ == "__main__":
    raise SystemExit(main())
