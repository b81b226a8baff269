"""On-call resolution benchmark: who holds the pager at an instant, and a schedule.

It measures the two ways OpsWatch answers "who is on call":

pure
    ``opswatch.rosters.resolve`` on a ``Plan`` built in memory, no database:
    ``oncall_at(plan, instant)`` and ``schedule(plan, start, end)``.
SQLite, PostgreSQL
    ``opswatch.rosters.oncall.shift_at(roster, instant)`` and
    ``shifts_between(roster, start, end)``, the path the REST endpoint and GraphQL
    take: load the plan (the roster's sub-rosters, members and overrides), then
    compute the same answer. SQLite always runs, on a file in a temporary
    directory; PostgreSQL runs when ``--database-url postgres://...`` is given.

Three plans, each rotating weekly from Monday 2026-01-05 with 08:00 local handoffs:

standard
    one rotation in Europe/Berlin, 3 members.
follow-the-sun
    the spec's "Global Primary": sub-rosters APAC (Pacific/Auckland) and EMEA
    (Europe/Berlin), each covering 08:00-20:00 local with 3 members.
follow-the-sun + 20 overrides
    the same, plus 20 two-day overrides (on the roster itself and on each
    sub-roster in turn): ten about five weeks apart within half a year either side
    of each measured instant, the middle one covering the instant itself.

Four cases per plan:

``at +1 day``
    one lookup at 2026-01-06 12:00 UTC, a day after the start date.
``at +10 years``
    one lookup 522 weeks (ten years) later, 2036-01-08 12:00 UTC: the same weekday
    and time, so the same point of a weekly shift. The lookup is constant-time
    arithmetic on calendar days, so its cost must not grow with the distance from
    the start date: the report gives the ratio of the mean latencies (near 1).
    A lookup computes the shifts within the rotation length plus a day either
    side; at +1 day that range begins before the first handoff, where nobody is
    on call and the answer is cheaper, so the pure path's ratio sits a little
    above 1 (about 1.25 for the standard roster) without any growth with
    distance: from +2 weeks on, the cost is flat.
``7-day schedule`` and ``90-day schedule``
    every shift from 2026-01-05 00:00 UTC over 7 and 90 days.

Each case is run once (its answer is kept), warmed up for ``--warmup`` seconds,
then repeated for ``--seconds`` of wall time, one call after the other, each timed
with ``time.perf_counter_ns``; the report gives calls per second, the mean and
p99 latency and the number of shifts in the answer. The database cases await each
call before the next (on the default asyncio loop): the latency of one connection
is the point, not throughput under concurrency. The answers of the database paths
are compared with the pure path's (the same shifts, holders and sub-rosters), so
both measure the same work; a difference is reported and exits with status 1.

Run it from the repository root, with the project's virtualenv::

    .venv/bin/python bench/oncall.py
    .venv/bin/python bench/oncall.py --database-url postgres://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/oncall.py --seconds 10 --json /tmp/oncall.json

The database is set up the way a deployment's is: migrated with
``opswatch.db.upgrade``, connected with ``opswatch.db.connect``, a runtime
installed (creating a roster seals its calendar token with the runtime's secret
box), and a tenant, its users, rosters and overrides created through the service
functions. For PostgreSQL, a role that may create databases is needed: the run
connects to the URL's ``postgres`` database, creates ``opswatch_bench_<hex>``,
uses it, and drops it at the end, also when the run fails or is interrupted.

Output: progress on stderr; on stdout a Markdown section (the machine, the
commit, the command line, one table of every case, the ten-year/one-day ratios
and whether the answers agreed), and the same figures as JSON with ``--json PATH``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import multiprocessing
import secrets
import shlex
import signal
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from time import perf_counter_ns
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from common import (
    HelpFormatter,
    create_database,
    drop_database,
    interrupted,
    machine,
    not_negative,
    positive,
    say,
    with_database,
)

from opswatch import db, runtime
from opswatch.audit.actor import Actor
from opswatch.config import load_settings
from opswatch.models import Roster, RosterKind, Tenant, User
from opswatch.rosters.oncall import shift_at, shifts_between
from opswatch.rosters.overrides import create_override
from opswatch.rosters.resolve import OverrideSpan, Plan, Shift, oncall_at, schedule
from opswatch.rosters.rosters import RosterSpec, create_roster
from opswatch.rosters.rotation import Rotation
from opswatch.tenants.tenants import create_tenant
from opswatch.tenants.users import create_user

DEFAULT_SECONDS = 3.0
DEFAULT_WARMUP = 0.5

START_DATE = date(2026, 1, 5)
ROTATION_DAYS = 7
ONE_DAY_AT = datetime(2026, 1, 6, 12, 0, tzinfo=UTC)
# Whole weeks, so both instants sit at the same point of a weekly shift (and, with
# 522 divisible by 3, the same member holds it).
TEN_YEARS_AT = ONE_DAY_AT + timedelta(weeks=522)
SCHEDULE_START = datetime.combine(START_DATE, time(0), tzinfo=UTC)
OVERRIDE_SPACING = timedelta(days=36)
OVERRIDE_HALF_LENGTH = timedelta(days=1)

PEOPLE = ("Stefan", "Alice", "Bob", "Hans", "Katja", "Lars", "Yuki")
# Stable ids for the pure plans, so their answers can be named like the database's.
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://opswatch.invalid/bench/oncall")

PURE = "pure"
SQLITE = "SQLite"
POSTGRES = "PostgreSQL"
AT_ONE_DAY = "at +1 day"
AT_TEN_YEARS = "at +10 years"


# ---------------------------------------------------------------------------
# What is measured: plans, described once for both the pure and the database path


@dataclass(frozen=True)
class RotationDesign:
    name: str
    zone: str
    handoff: str  # local "HH:MM"
    members: tuple[str, ...]  # in rotation order
    coverage: tuple[str, str] | None = None  # local "HH:MM" window, sub-rosters only


@dataclass(frozen=True)
class OverrideDesign:
    target: str | None  # a sub-roster's name, or None for the roster itself
    user: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class PlanDesign:
    key: str  # the plan's name in the report
    name: str  # the roster's name
    follow_the_sun: bool
    rotations: tuple[RotationDesign, ...]
    overrides: tuple[OverrideDesign, ...] = ()


def spread_overrides() -> tuple[OverrideDesign, ...]:
    """Ten two-day overrides around each measured instant, the middle one covering it."""
    # A roster-wide cover by someone outside the rotations, then swaps between regions.
    holders: tuple[tuple[str | None, str], ...] = (
        (None, "Yuki"),
        ("APAC", "Hans"),
        ("EMEA", "Alice"),
    )
    overrides = []
    for instant in (ONE_DAY_AT, TEN_YEARS_AT):
        for index, step in enumerate(range(-5, 5)):
            target, user = holders[index % len(holders)]
            middle = instant + step * OVERRIDE_SPACING
            overrides.append(
                OverrideDesign(
                    target, user, middle - OVERRIDE_HALF_LENGTH, middle + OVERRIDE_HALF_LENGTH
                )
            )
    return tuple(overrides)


STANDARD = PlanDesign(
    key="standard",
    name="Standard weekly",
    follow_the_sun=False,
    rotations=(
        RotationDesign("Standard weekly", "Europe/Berlin", "08:00", ("Hans", "Katja", "Lars")),
    ),
)
GLOBAL_PRIMARY = PlanDesign(
    key="follow-the-sun",
    name="Global Primary",
    follow_the_sun=True,
    rotations=(
        RotationDesign(
            "APAC", "Pacific/Auckland", "08:00", ("Stefan", "Alice", "Bob"), ("08:00", "20:00")
        ),
        RotationDesign(
            "EMEA", "Europe/Berlin", "08:00", ("Hans", "Katja", "Lars"), ("08:00", "20:00")
        ),
    ),
)
GLOBAL_WITH_OVERRIDES = PlanDesign(
    key="follow-the-sun + 20 overrides",
    name="Global Primary with overrides",
    follow_the_sun=True,
    rotations=GLOBAL_PRIMARY.rotations,
    overrides=spread_overrides(),
)
DESIGNS = (STANDARD, GLOBAL_PRIMARY, GLOBAL_WITH_OVERRIDES)


@dataclass(frozen=True)
class Case:
    label: str
    at: datetime  # the instant asked about, or where the schedule starts
    days: int | None = None  # a schedule over this many days; None for one lookup

    @property
    def end(self) -> datetime:
        return self.at + timedelta(days=self.days or 0)


CASES = (
    Case(AT_ONE_DAY, ONE_DAY_AT),
    Case(AT_TEN_YEARS, TEN_YEARS_AT),
    Case("7-day schedule", SCHEDULE_START, 7),
    Case("90-day schedule", SCHEDULE_START, 90),
)

Answer = Shift | list[Shift]
# One shift as names and instants: comparable between the pure and database paths,
# whose ids differ.
ShiftFacts = tuple[str, ...]


def shifts_of(answer: Answer) -> list[Shift]:
    return answer if isinstance(answer, list) else [answer]


def facts(answer: Answer, names: Mapping[uuid.UUID, str]) -> list[ShiftFacts]:
    """The answer with every id replaced by the name of the roster or user it stands for."""
    return [
        (
            shift.start.isoformat(),
            shift.end.isoformat(),
            names.get(shift.holding.roster_id, "?"),
            names.get(shift.holding.user_id, "?") if shift.holding.user_id else "nobody",
            shift.holding.source.value,
            f"gap={shift.holding.coverage_gap}",
            f"open={shift.open_start},{shift.open_end}",
        )
        for shift in shifts_of(answer)
    ]


# ---------------------------------------------------------------------------
# Timing


@dataclass(frozen=True)
class Row:
    plan: str
    case: str
    path: str
    calls: int
    per_s: float
    mean_us: float
    p99_us: float
    shifts: int
    same_answer: bool | None = None  # database paths: the pure path's shifts?


@dataclass(frozen=True)
class Timing:
    calls: int
    per_s: float
    mean_us: float
    p99_us: float


def summarize(latencies_ns: list[int], wall_ns: int) -> Timing:
    ordered = sorted(latencies_ns)
    # Nearest rank: the smallest latency that at least 99% of the calls did not exceed.
    p99 = ordered[max(math.ceil(0.99 * len(ordered)), 1) - 1]
    return Timing(
        calls=len(ordered),
        per_s=len(ordered) / (wall_ns / 1e9),
        mean_us=sum(ordered) / len(ordered) / 1e3,
        p99_us=p99 / 1e3,
    )


def repeat(call: Callable[[], object], seconds: float) -> tuple[list[int], int]:
    """Latencies (ns) of calls made one after another for ``seconds``, and the wall time."""
    latencies: list[int] = []
    began = perf_counter_ns()
    deadline = began + round(seconds * 1e9)
    while True:
        before = perf_counter_ns()
        call()
        after = perf_counter_ns()
        latencies.append(after - before)
        if after >= deadline:
            return latencies, after - began


async def repeat_async(
    call: Callable[[], Awaitable[object]], seconds: float
) -> tuple[list[int], int]:
    """``repeat`` for coroutines, each awaited before the next starts."""
    latencies: list[int] = []
    began = perf_counter_ns()
    deadline = began + round(seconds * 1e9)
    while True:
        before = perf_counter_ns()
        await call()
        after = perf_counter_ns()
        latencies.append(after - before)
        if after >= deadline:
            return latencies, after - began


def measure(call: Callable[[], Answer], args: argparse.Namespace) -> tuple[Timing, Answer]:
    answer = call()
    repeat(call, args.warmup)
    # Garbage of earlier cases and of the warm-up is collected now, not while timing.
    gc.collect()
    return summarize(*repeat(call, args.seconds)), answer


async def measure_async(
    call: Callable[[], Awaitable[Answer]], args: argparse.Namespace
) -> tuple[Timing, Answer]:
    answer = await call()
    await repeat_async(call, args.warmup)
    gc.collect()
    return summarize(*await repeat_async(call, args.seconds)), answer


def row_of(design: PlanDesign, case: Case, path: str, timing: Timing, answer: Answer) -> Row:
    row = Row(
        plan=design.key,
        case=case.label,
        path=path,
        calls=timing.calls,
        per_s=timing.per_s,
        mean_us=timing.mean_us,
        p99_us=timing.p99_us,
        shifts=len(shifts_of(answer)),
    )
    say(f"{path:<10} {design.key}, {case.label}: {row.per_s:,.0f}/s, mean {row.mean_us:,.1f} µs")
    return row


# ---------------------------------------------------------------------------
# Pure computation


def stable_id(*parts: str) -> uuid.UUID:
    return uuid.uuid5(ID_NAMESPACE, "/".join(parts))


def rotation_ids(design: PlanDesign) -> dict[str, uuid.UUID]:
    """Roster id of each rotation: the roster's own for a standard roster, as in the database."""
    if not design.follow_the_sun:
        return {r.name: stable_id(design.key) for r in design.rotations}
    return {r.name: stable_id(design.key, r.name) for r in design.rotations}


def build_rotation(rotation: RotationDesign, roster_id: uuid.UUID) -> Rotation:
    coverage = None
    if rotation.coverage is not None:
        opens, closes = rotation.coverage
        coverage = (time.fromisoformat(opens), time.fromisoformat(closes))
    return Rotation(
        roster_id=roster_id,
        name=rotation.name,
        zone=ZoneInfo(rotation.zone),
        start_date=START_DATE,
        length_days=ROTATION_DAYS,
        handoff=time.fromisoformat(rotation.handoff),
        members=tuple(stable_id("user", name) for name in rotation.members),
        coverage=coverage,
    )


def build_plan(design: PlanDesign) -> tuple[Plan, dict[uuid.UUID, str]]:
    """The plan, and the names of the rosters and users its ids stand for."""
    plan_id = stable_id(design.key)
    ids = rotation_ids(design)
    # Distinct creation times in order, as the database would give them.
    created = datetime(2025, 12, 1, tzinfo=UTC)
    overrides = tuple(
        OverrideSpan(
            id=stable_id(design.key, "override", str(index)),
            roster_id=plan_id if o.target is None else ids[o.target],
            user_id=stable_id("user", o.user),
            start=o.start,
            end=o.end,
            created_at=created + timedelta(seconds=index),
        )
        for index, o in enumerate(design.overrides)
    )
    plan = Plan(
        roster_id=plan_id,
        name=design.name,
        follow_the_sun=design.follow_the_sun,
        rotations=tuple(build_rotation(r, ids[r.name]) for r in design.rotations),
        overrides=overrides,
    )
    names = {ids[name]: name for name in ids} | {plan_id: design.name}
    names |= {stable_id("user", name): name for name in PEOPLE}
    return plan, names


def pure_call(plan: Plan, case: Case) -> Callable[[], Answer]:
    if case.days is None:
        return lambda: oncall_at(plan, case.at)
    return lambda: schedule(plan, case.at, case.end)


def run_pure(args: argparse.Namespace) -> tuple[list[Row], dict[tuple[str, str], list[ShiftFacts]]]:
    """Rows of the pure path, and its answers as the reference for the database paths."""
    rows = []
    reference = {}
    for design in DESIGNS:
        plan, names = build_plan(design)
        for case in CASES:
            timing, answer = measure(pure_call(plan, case), args)
            rows.append(row_of(design, case, PURE, timing, answer))
            reference[design.key, case.label] = facts(answer, names)
    return rows, reference


# ---------------------------------------------------------------------------
# With the database


def roster_spec(rotation: RotationDesign, name: str) -> RosterSpec:
    opens, closes = rotation.coverage or (None, None)
    return RosterSpec(
        name=name,
        timezone=rotation.zone,
        start_date=START_DATE,
        rotation_length_days=ROTATION_DAYS,
        handoff_time=rotation.handoff,
        coverage_start=opens,
        coverage_end=closes,
    )


async def create_design(
    tenant: Tenant, design: PlanDesign, users: Mapping[str, User], actor: Actor
) -> tuple[Roster, dict[uuid.UUID, str]]:
    """The roster (with its sub-rosters and overrides), and its rosters' names by id."""

    def member_ids(rotation: RotationDesign) -> list[str]:
        return [str(users[name].id) for name in rotation.members]

    owners: dict[str | None, Roster] = {}
    if design.follow_the_sun:
        top = await create_roster(
            tenant=tenant,
            actor=actor,
            spec=RosterSpec(name=design.name, kind=RosterKind.FOLLOW_THE_SUN, timezone="UTC"),
        )
        for rotation in design.rotations:
            owners[rotation.name] = await create_roster(
                tenant=tenant,
                actor=actor,
                spec=roster_spec(rotation, rotation.name),
                parent_id=str(top.id),
                member_ids=member_ids(rotation),
            )
    else:
        (rotation,) = design.rotations
        top = await create_roster(
            tenant=tenant,
            actor=actor,
            spec=roster_spec(rotation, design.name),
            member_ids=member_ids(rotation),
        )
    owners[None] = top
    for override in design.overrides:
        await create_override(
            tenant=tenant,
            roster=owners[override.target],
            user_id=str(users[override.user].id),
            start=override.start,
            end=override.end,
            actor=actor,
            # Overrides ending in the past are refused; these are set as if made beforehand.
            now=override.start,
        )
    names = {roster.id: name or design.name for name, roster in owners.items()}
    return top, names


async def seed() -> tuple[dict[str, Roster], dict[uuid.UUID, str]]:
    """One tenant with every plan's roster; the rosters by plan, and names by id."""
    actor = Actor.system("bench")
    tenant = await create_tenant(name="OpsWatch bench", slug=None, actor=actor)
    users = {}
    for name in PEOPLE:
        created = await create_user(
            tenant=tenant,
            name=name,
            email=f"{name.lower()}@bench.example",
            actor=actor,
            with_token=False,
        )
        users[name] = created.user
    names: dict[uuid.UUID, str] = {user.id: name for name, user in users.items()}
    rosters = {}
    for design in DESIGNS:
        rosters[design.key], roster_names = await create_design(tenant, design, users, actor)
        names |= roster_names
    return rosters, names


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


# ---------------------------------------------------------------------------
# Report


def number(value: float) -> str:
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def ratios(rows: list[Row]) -> dict[str, dict[str, float]]:
    """Mean latency at +10 years divided by the mean at +1 day, by plan and path."""
    mean = {(r.plan, r.path, r.case): r.mean_us for r in rows}
    found: dict[str, dict[str, float]] = {}
    for plan, path, case in mean:
        if case == AT_ONE_DAY and (plan, path, AT_TEN_YEARS) in mean:
            ratio = mean[plan, path, AT_TEN_YEARS] / mean[plan, path, AT_ONE_DAY]
            found.setdefault(plan, {})[path] = ratio
    return found


def ordered(rows: list[Row]) -> list[Row]:
    """Rows by plan and case, the paths of one case next to each other."""
    plans = [d.key for d in DESIGNS]
    cases = [c.label for c in CASES]
    paths = [PURE, SQLITE, POSTGRES]
    return sorted(
        rows, key=lambda r: (plans.index(r.plan), cases.index(r.case), paths.index(r.path))
    )


def render(report: Mapping[str, Any], rows: list[Row]) -> str:
    m = report["machine"]
    out = [
        "## On-call resolution",
        "",
        f"- machine: {m['nproc']} CPUs (nproc), {m['cpu']}, {m['memory']} memory",
        f"- Python {m['python']}, PostgreSQL {m['postgresql']}",
        f"- commit: {m['commit']}",
        f"- command: `{report['command']}`",
        f"- each case: {report['warmup_s']} s warm-up, then {report['seconds_s']} s of calls "
        "one after another; pure = `oncall_at` / `schedule` on an in-memory plan, "
        "SQLite / PostgreSQL = `shift_at` / `shifts_between` (load the plan, then compute); "
        "for schedules, lookups/s counts schedules",
        "",
        "| case | path | lookups/s | mean µs | p99 µs | shifts |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in ordered(rows):
        out.append(
            f"| {r.plan}, {r.case} | {r.path} | {r.per_s:,.0f} | {number(r.mean_us)} "
            f"| {number(r.p99_us)} | {r.shifts} |"
        )
    per_plan = [
        f"{plan} " + ", ".join(f"{path} {value:.2f}" for path, value in by_path.items())
        for plan, by_path in report["ratios"].items()
    ]
    out += ["", "Ten years / one day (mean latency, 1.00 = same cost): " + "; ".join(per_plan)]
    if report["different_answers"]:
        listed = ", ".join(report["different_answers"])
        out.append(f"\n**The database answers differ from the pure path's:** {listed}")
    elif any(r.path != PURE for r in rows):
        out.append("\nThe database paths gave the same shifts as the pure path in every case.")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------
# Main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/oncall.py",
        # The module docstring is the manual: --help shows it whole, line breaks kept.
        description=__doc__,
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--seconds",
        type=positive,
        default=DEFAULT_SECONDS,
        help="wall time each case is repeated for, after its warm-up",
    )
    parser.add_argument(
        "--warmup",
        type=not_negative,
        default=DEFAULT_WARMUP,
        help="seconds each case runs untimed first",
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="also measure on PostgreSQL, e.g. postgres://postgres@127.0.0.1:5432/postgres: "
        "a role that may create databases; a fresh opswatch_bench_<hex> database is created "
        "beside the URL's database and dropped at the end (SQLite always runs)",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    args = parser.parse_args(argv)
    if args.database_url is not None:
        scheme = urlsplit(args.database_url).scheme
        if scheme not in ("postgres", "postgresql"):
            parser.error(f"--database-url must be a postgres:// URL, not {scheme}://")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join(sys.orig_argv if argv is None else ["bench/oncall.py", *argv])
    # SIGTERM unwinds like Ctrl-C, so the worker is stopped and the database dropped.
    signal.signal(signal.SIGTERM, interrupted)
    try:
        rows, reference = run_pure(args)
        database_rows, postgres_version = run_databases(args, reference)
    except KeyboardInterrupt:
        say("interrupted; everything started was stopped and removed")
        return 130
    rows += database_rows
    different = [f"{r.plan}, {r.case} ({r.path})" for r in rows if r.same_answer is False]
    report = {
        "machine": machine(postgres_version),
        "command": command,
        "seconds_s": args.seconds,
        "warmup_s": args.warmup,
        "results": [asdict(r) for r in ordered(rows)],
        "ratios": ratios(ordered(rows)),
        "different_answers": different,
    }
    print(render(report, rows))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        say(f"wrote {args.json}")
    return 1 if different else 0


if __name__ == "__main__":
    raise SystemExit(main())
