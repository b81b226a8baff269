"""Defaults of the on-call benchmark, the instants it asks about, and the paths' names."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

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
