"""What is measured: plans, described once for both the pure and the database path,
the cases asked of each, and answers as names and instants."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from opswatch.rosters.resolve import Shift

from .base import (
    AT_ONE_DAY,
    AT_TEN_YEARS,
    ONE_DAY_AT,
    OVERRIDE_HALF_LENGTH,
    OVERRIDE_SPACING,
    SCHEDULE_START,
    TEN_YEARS_AT,
)


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
