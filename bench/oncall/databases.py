"""The database paths: every case on SQLite, then PostgreSQL if asked for, each in its
own process."""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import secrets
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from common import create_database, drop_database, with_database

from opswatch import db, runtime
from opswatch.config import load_settings
from opswatch.models import Roster
from opswatch.rosters.oncall import shift_at, shifts_between

from .base import POSTGRES, SQLITE
from .plans import CASES, DESIGNS, Answer, Case, ShiftFacts, facts
from .seed import seed
from .timing import Row, measure_async, row_of


def database_call(roster: Roster, case: Case) -> Callable[[], Awaitable[Answer]]:
    if case.days is None:
        return lambda: shift_at(roster, case.at)
    return lambda: shifts_between(roster, case.at, case.end)


async def measure_database(
    path: str, database_url: str, args: argparse.Namespace
) -> list[tuple[Row, list[ShiftFacts]]]:
    """Every case on this database, with each answer as names and instants."""
    with tempfile.TemporaryDirectory(prefix="opswatch-bench-oncall-") as data_dir:
        # Only these settings, not the caller's OPSWATCH_* environment: a stray
        # OPSWATCH_REDIS_URL would make the runtime connect to Redis.
        settings = load_settings(
            {
                "OPSWATCH_DATA_DIR": data_dir,
                "OPSWATCH_DATABASE_URL": database_url,
                "OPSWATCH_SECRET_KEY": secrets.token_urlsafe(48),
            }
        )
        await db.upgrade(settings.database_url)
        await db.connect(settings.database_url)
        try:
            runtime.install(runtime.build(settings))
            rosters, names = await seed()
            results = []
            for design in DESIGNS:
                for case in CASES:
                    call = database_call(rosters[design.key], case)
                    timing, answer = await measure_async(call, args)
                    row = row_of(design, case, path, timing, answer)
                    results.append((row, facts(answer, names)))
            return results
        finally:
            runtime.install(None)
            await db.disconnect()


def measure_database_in_child(
    path: str, database_url: str, args: argparse.Namespace
) -> list[tuple[dict[str, Any], list[ShiftFacts]]]:
    """``measure_database`` in a worker process; rows as plain dicts to pickle back."""
    results = asyncio.run(measure_database(path, database_url, args))
    return [(asdict(row), answer) for row, answer in results]


def run_database(
    path: str,
    database_url: str,
    args: argparse.Namespace,
    reference: Mapping[tuple[str, str], list[ShiftFacts]],
) -> list[Row]:
    """The database path's rows, each marked with whether it answered like the pure path."""
    # A fresh interpreter per database: Tortoise builds each model's SQL for the
    # first backend it is initialised with, and would send SQLite's to PostgreSQL.
    # Leaving the pool terminates the worker, also when we are interrupted.
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        results = pool.apply(measure_database_in_child, (path, database_url, args))
    return [
        replace(Row(**row), same_answer=answer == reference[row["plan"], row["case"]])
        for row, answer in results
    ]


def run_postgres(
    url: str,
    args: argparse.Namespace,
    reference: Mapping[tuple[str, str], list[ShiftFacts]],
) -> tuple[list[Row], str]:
    """The database path on a fresh database, dropped afterwards; rows and server version."""
    admin_url = with_database(url, "postgres")
    name = f"opswatch_bench_{secrets.token_hex(6)}"
    version = asyncio.run(create_database(admin_url, name))
    try:
        # Tortoise knows the scheme as postgres://, not postgresql://.
        bench_url = with_database(url, name, "postgres")
        return run_database(POSTGRES, bench_url, args, reference), version
    finally:
        asyncio.run(drop_database(admin_url, name))


def run_databases(
    args: argparse.Namespace, reference: Mapping[tuple[str, str], list[ShiftFacts]]
) -> tuple[list[Row], str | None]:
    """SQLite, then PostgreSQL if asked for; the rows and PostgreSQL's version."""
    with tempfile.TemporaryDirectory(prefix="opswatch-bench-sqlite-") as directory:
        sqlite_url = f"sqlite://{Path(directory) / 'bench.sqlite3'}"
        rows = run_database(SQLITE, sqlite_url, args, reference)
    if args.database_url is None:
        return rows, None
    postgres_rows, version = run_postgres(args.database_url, args, reference)
    return rows + postgres_rows, version
