"""The pure path: ``opswatch.rosters.resolve`` on plans built in memory, no database."""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from opswatch.rosters.resolve import OverrideSpan, Plan, oncall_at, schedule
from opswatch.rosters.rotation import Rotation

from .base import ID_NAMESPACE, PEOPLE, PURE, ROTATION_DAYS, START_DATE
from .plans import CASES, DESIGNS, Answer, Case, PlanDesign, RotationDesign, ShiftFacts, facts
from .timing import Row, measure, row_of


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
