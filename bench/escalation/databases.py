"""One database, in its own process: SQLite, then PostgreSQL if asked for."""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import secrets
import tempfile
from dataclasses import asdict
from pathlib import Path
from time import perf_counter
from typing import Any

from common import create_database, drop_database, say, with_database

from opswatch import db, runtime
from tests.fakes.twilio import FakeTwilio

from .base import POSTGRES, SQLITE, DatabaseRun
from .first_tier import first_tier
from .harness import (
    StampingEventBus,
    bench_settings,
    install_runtime,
    stop_installed_queue,
    stop_queue,
)
from .lateness import lateness
from .seed import seed


async def measure_database(path: str, database_url: str, args: argparse.Namespace) -> DatabaseRun:
    with tempfile.TemporaryDirectory(prefix="opswatch-bench-escalation-") as data_dir:
        async with FakeTwilio() as fake:
            settings = bench_settings(data_dir, database_url, fake.url)
            await db.upgrade(settings.database_url)
            await db.connect(settings.database_url)
            bus = StampingEventBus()
            try:
                setup_queue = install_runtime(settings, bus)
                began = perf_counter()
                alert_ids = await seed(settings, fake, args)
                setup_s = perf_counter() - began
                await stop_queue(setup_queue)
                say(f"{path}: set up {args.people} people and {len(alert_ids)} alerts")
                wait = not args.no_throttle_wait
                first = await first_tier(settings, bus, fake, len(alert_ids), wait)
                say(f"{path}: first tier: {first.at_once.handed_over} events handed over")
                late = []
                for cycle, tick in enumerate(args.ticks):
                    late.append(await lateness(settings, bus, alert_ids, cycle, tick, args.spread))
                    say(f"{path}: tick {tick:g} s: {late[-1].stepped} alerts stepped")
                return DatabaseRun(path, setup_s, first, late)
            finally:
                await stop_installed_queue()
                runtime.install(None)
                await bus.stop()
                await db.disconnect()


def measure_database_in_child(
    path: str, database_url: str, args: argparse.Namespace
) -> dict[str, Any]:
    """``measure_database`` in a worker process; the run as a plain dict to pickle back."""
    return asdict(asyncio.run(measure_database(path, database_url, args)))


def run_database(path: str, database_url: str, args: argparse.Namespace) -> dict[str, Any]:
    # A fresh interpreter per database: Tortoise builds each model's SQL for the
    # first backend it is initialised with, and would send SQLite's to PostgreSQL.
    # Leaving the pool terminates the worker, also when we are interrupted.
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(measure_database_in_child, (path, database_url, args))


def run_postgres(url: str, args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    """The run on a fresh database, dropped afterwards; the run and the server's version."""
    admin_url = with_database(url, "postgres")
    name = f"opswatch_bench_{secrets.token_hex(6)}"
    version = asyncio.run(create_database(admin_url, name))
    try:
        # Tortoise knows the scheme as postgres://, not postgresql://.
        return run_database(POSTGRES, with_database(url, name, "postgres"), args), version
    finally:
        asyncio.run(drop_database(admin_url, name))


def run_databases(args: argparse.Namespace) -> tuple[list[dict[str, Any]], str | None]:
    """SQLite, then PostgreSQL if asked for; the runs and PostgreSQL's version."""
    with tempfile.TemporaryDirectory(prefix="opswatch-bench-sqlite-") as directory:
        sqlite_url = f"sqlite://{Path(directory) / 'bench.sqlite3'}"
        runs = [run_database(SQLITE, sqlite_url, args)]
    if args.database_url is None:
        return runs, None
    postgres_run, version = run_postgres(args.database_url, args)
    return [*runs, postgres_run], version
