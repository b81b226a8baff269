"""On-call arithmetic, table-driven across DST changes in both hemispheres.

Expected values are worked out by hand from the zone rules:
Europe/Berlin is +01:00 (CET) until 2026-03-29 01:00Z and after 2026-10-25
01:00Z, +02:00 (CEST) between; Pacific/Auckland is +13:00 (NZDT) until
2026-04-04 14:00Z and after 2026-09-26 14:00Z, +12:00 (NZST) between.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from opswatch.rosters.resolve import (
    Holding,
    OverrideSpan,
    Plan,
    Source,
    holding_at,
    oncall_at,
    schedule,
)
from opswatch.rosters.rotation import Rotation

PEOPLE = ["stefan", "alice", "bob", "hans", "katja", "lars", "xavier", "yuki"]
ID = {name: uuid.uuid5(uuid.NAMESPACE_URL, name) for name in PEOPLE}
NAME = {value: key for key, value in ID.items()}
APAC_ID, EMEA_ID, GLOBAL_ID, STANDARD_ID = (uuid.uuid4() for _ in range(4))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def rotation(
    zone: str,
    start: date,
    length: int,
    handoff: str,
    members: list[str],
    *,
    roster_id: uuid.UUID = STANDARD_ID,
    coverage: tuple[str, str] | None = None,
) -> Rotation:
    return Rotation(
        roster_id=roster_id,
        name=str(roster_id),
        zone=ZoneInfo(zone),
        start_date=start,
        length_days=length,
        handoff=time.fromisoformat(handoff),
        members=tuple(ID[m] for m in members),
        coverage=(time.fromisoformat(coverage[0]), time.fromisoformat(coverage[1]))
        if coverage
        else None,
    )


def standard(*args: object, overrides: tuple[OverrideSpan, ...] = (), **kw: object) -> Plan:
    return Plan(STANDARD_ID, "standard", False, (rotation(*args, **kw),), overrides)  # type: ignore[arg-type]


APAC = rotation(
    "Pacific/Auckland",
    date(2026, 1, 5),
    7,
    "08:00",
    ["stefan", "alice", "bob"],
    roster_id=APAC_ID,
    coverage=("08:00", "20:00"),
)
EMEA = rotation(
    "Europe/Berlin",
    date(2026, 1, 5),
    7,
    "08:00",
    ["hans", "katja", "lars"],
    roster_id=EMEA_ID,
    coverage=("08:00", "20:00"),
)


def global_primary(*overrides: OverrideSpan) -> Plan:
    return Plan(GLOBAL_ID, "Global Primary", True, (APAC, EMEA), overrides)


def override(
    roster_id: uuid.UUID, user: str, start: str, end: str, created: str = "2026-01-01T00:00"
) -> OverrideSpan:
    return OverrideSpan(uuid.uuid4(), roster_id, ID[user], utc(start), utc(end), utc(created))


def who(holding: Holding) -> str | None:
    return NAME[holding.user_id] if holding.user_id else None


# "zone start-date rotation-days handoff | instant -> holder shift-start..shift-end",
# instants in UTC; Berlin is Europe/Berlin, Auckland Pacific/Auckland.
STANDARD_CASES = [
    # Berlin weekly across spring forward: handoff stays 08:00 local (07:00Z, then 06:00Z).
    "Berlin 2026-03-23 7 08:00 | 2026-03-23T06:59 -> nobody",
    "Berlin 2026-03-23 7 08:00 | 2026-03-23T07:00 -> stefan 2026-03-23T07:00..2026-03-30T06:00",
    "Berlin 2026-03-23 7 08:00 | 2026-03-30T05:59 -> stefan 2026-03-23T07:00..2026-03-30T06:00",
    "Berlin 2026-03-23 7 08:00 | 2026-03-30T06:00 -> alice 2026-03-30T06:00..2026-04-06T06:00",
    # Berlin daily across fall back: 08:00 CEST is 06:00Z, 08:00 CET 07:00Z; no 24 h blocks.
    "Berlin 2026-10-20 1 08:00 | 2026-10-25T06:30 -> alice 2026-10-24T06:00..2026-10-25T07:00",
    "Berlin 2026-10-20 1 08:00 | 2026-10-25T07:00 -> bob 2026-10-25T07:00..2026-10-26T07:00",
    # A handoff inside the spring-forward gap (02:30 does not exist) moves on to 03:30 CEST.
    "Berlin 2026-03-27 1 02:30 | 2026-03-29T01:29 -> alice 2026-03-28T01:30..2026-03-29T01:30",
    "Berlin 2026-03-27 1 02:30 | 2026-03-29T01:30 -> bob 2026-03-29T01:30..2026-03-30T00:30",
    # An ambiguous handoff (02:30 happens twice on 2026-10-25) is its first occurrence.
    "Berlin 2026-10-24 1 02:30 | 2026-10-25T00:30 -> alice 2026-10-25T00:30..2026-10-26T01:30",
    # Auckland weekly across the April fall back and the September spring forward.
    "Auckland 2026-01-05 7 08:00 | 2026-04-05T19:59 -> stefan 2026-03-29T19:00..2026-04-05T20:00",
    "Auckland 2026-01-05 7 08:00 | 2026-04-05T20:00 -> alice 2026-04-05T20:00..2026-04-12T20:00",
    "Auckland 2026-01-05 7 08:00 | 2026-09-27T18:59 -> alice 2026-09-20T20:00..2026-09-27T19:00",
    "Auckland 2026-01-05 7 08:00 | 2026-09-27T19:00 -> bob 2026-09-27T19:00..2026-10-04T19:00",
    # Three-day rotation of two members, wrapping around.
    "Berlin 2026-01-01 3 09:00 | 2026-01-04T07:59 -> stefan 2026-01-01T08:00..2026-01-04T08:00",
    "Berlin 2026-01-01 3 09:00 | 2026-01-04T08:00 -> alice 2026-01-04T08:00..2026-01-07T08:00",
    "Berlin 2026-01-01 3 09:00 | 2026-01-07T08:00 -> stefan 2026-01-07T08:00..2026-01-10T08:00",
    # Ten years out: the same arithmetic (cycle 521 of a weekly roster; 521 % 3 = 2).
    "Auckland 2026-01-05 7 08:00 | 2036-01-01T00:00 -> bob 2035-12-30T19:00..2036-01-06T19:00",
]


@pytest.mark.parametrize("case", STANDARD_CASES)
def test_standard_rotation(case: str) -> None:
    roster, _, expected = case.partition(" | ")
    zone, start, days, handoff = roster.split()
    at, _, answer = expected.partition(" -> ")
    holder, _, span = answer.partition(" ")
    members = ["stefan", "alice"] if days == "3" else ["stefan", "alice", "bob"]
    zone = {"Berlin": "Europe/Berlin", "Auckland": "Pacific/Auckland"}[zone]
    plan = standard(zone, date.fromisoformat(start), int(days), handoff, members)
    shift = oncall_at(plan, utc(at))
    if holder == "nobody":
        assert shift.holding.user_id is None
        assert shift.holding.source is Source.NOBODY
        return
    assert who(shift.holding) == holder
    assert shift.holding.source is Source.ROTATION
    shift_start, _, shift_end = span.partition("..")
    assert (shift.start, shift.end) == (utc(shift_start), utc(shift_end))


# "instant (UTC) -> sub-roster holder [gap] shift-start..shift-end (UTC)"
FOLLOW_THE_SUN_CASES = [
    # January: NZDT +13 and CET +1 make the windows meet exactly at 07:00Z and 19:00Z.
    "2026-01-13T12:00 -> EMEA katja 2026-01-13T07:00..2026-01-13T19:00",
    "2026-01-13T20:00 -> APAC alice 2026-01-13T19:00..2026-01-14T07:00",
    "2026-01-14T06:59 -> APAC alice 2026-01-13T19:00..2026-01-14T07:00",
    # April, after both changes: EMEA 06:00-18:00Z, APAC 20:00-08:00Z. The overlap 06-08Z
    # goes to EMEA (opened last); the gap 18-20Z stays with EMEA (closed last).
    "2026-04-14T07:00 -> EMEA lars 2026-04-14T06:00..2026-04-14T18:00",
    "2026-04-14T05:00 -> APAC bob 2026-04-13T20:00..2026-04-14T06:00",
    "2026-04-14T19:00 -> EMEA lars gap 2026-04-14T18:00..2026-04-14T20:00",
    "2026-04-14T21:00 -> APAC bob 2026-04-14T20:00..2026-04-15T06:00",
    # Between 2026-03-29 and 04-05: CEST +2 and still NZDT +13, so overlap 06-07Z and
    # gap 18-19Z; cycle 12 of three members is the first.
    "2026-04-01T06:30 -> EMEA hans 2026-04-01T06:00..2026-04-01T18:00",
    "2026-04-01T18:30 -> EMEA hans gap 2026-04-01T18:00..2026-04-01T19:00",
    # October after Berlin's fall back (NZDT +13, CET +1): contiguous again.
    "2026-10-27T18:59 -> EMEA hans 2026-10-27T07:00..2026-10-27T19:00",
    "2026-10-27T19:00 -> APAC stefan 2026-10-27T19:00..2026-10-28T07:00",
]


@pytest.mark.parametrize("case", FOLLOW_THE_SUN_CASES)
def test_follow_the_sun(case: str) -> None:
    at, _, answer = case.partition(" -> ")
    sub, holder, *gap, span = answer.split()
    shift = oncall_at(global_primary(), utc(at))
    assert shift.holding.roster_id == {"APAC": APAC_ID, "EMEA": EMEA_ID}[sub]
    assert who(shift.holding) == holder
    assert shift.holding.coverage_gap is bool(gap)
    shift_start, _, shift_end = span.partition("..")
    assert (shift.start, shift.end) == (utc(shift_start), utc(shift_end))


def test_a_day_of_follow_the_sun_marks_the_overlap_winner_and_the_gap() -> None:
    shifts = schedule(global_primary(), utc("2026-04-14T00:00"), utc("2026-04-15T00:00"))
    assert [
        (s.start.strftime("%H:%M"), s.end.strftime("%H:%M"), who(s.holding), s.holding.coverage_gap)
        for s in shifts
    ] == [
        ("00:00", "06:00", "bob", False),
        ("06:00", "18:00", "lars", False),
        ("18:00", "20:00", "lars", True),
        ("20:00", "00:00", "bob", False),
    ]


def test_an_override_on_the_parent_wins_anywhere() -> None:
    plan = global_primary(override(GLOBAL_ID, "yuki", "2026-01-13T10:00", "2026-01-13T22:00"))
    shift = oncall_at(plan, utc("2026-01-13T12:00"))
    assert (who(shift.holding), shift.holding.source) == ("yuki", Source.OVERRIDE)
    assert (shift.start, shift.end) == (utc("2026-01-13T10:00"), utc("2026-01-13T22:00"))
    assert shift.holding.roster_id == GLOBAL_ID


def test_an_override_on_a_sub_roster_applies_inside_its_coverage_only() -> None:
    plan = global_primary(override(EMEA_ID, "xavier", "2026-01-13T00:00", "2026-01-14T00:00"))
    inside = oncall_at(plan, utc("2026-01-13T12:00"))
    assert (who(inside.holding), inside.holding.source) == ("xavier", Source.OVERRIDE)
    assert (inside.start, inside.end) == (utc("2026-01-13T07:00"), utc("2026-01-13T19:00"))
    outside = holding_at(plan, utc("2026-01-13T22:00"))
    assert (who(outside), outside.roster_id) == ("alice", APAC_ID)


def test_overlapping_overrides_the_newest_wins_where_they_overlap() -> None:
    older = override(STANDARD_ID, "xavier", "2026-02-02T00:00", "2026-02-04T00:00", "2026-01-01")
    newer = override(STANDARD_ID, "yuki", "2026-02-03T00:00", "2026-02-05T00:00", "2026-01-02")
    plan = standard(
        "Europe/Berlin", date(2026, 1, 5), 7, "08:00", ["hans", "katja"], overrides=(newer, older)
    )
    shifts = schedule(plan, utc("2026-02-02T00:00"), utc("2026-02-06T00:00"))
    assert [(s.start.day, s.end.day, who(s.holding)) for s in shifts] == [
        (2, 3, "xavier"),
        (3, 5, "yuki"),
        (5, 6, "hans"),  # cycle 4 of two members
    ]


def test_an_override_spanning_a_handoff_is_one_shift() -> None:
    span = override(STANDARD_ID, "yuki", "2026-01-11T00:00", "2026-01-14T00:00")
    plan = standard("Europe/Berlin", date(2026, 1, 5), 7, "08:00", ["hans"], overrides=(span,))
    shift = oncall_at(plan, utc("2026-01-12T12:00"))
    assert (shift.start, shift.end) == (span.start, span.end)


def test_an_empty_roster_answers_nobody() -> None:
    plan = standard("UTC", date(2026, 1, 1), 7, "09:00", [])
    shift = oncall_at(plan, utc("2026-06-01T00:00"))
    assert shift.holding.user_id is None
    assert shift.holding.source is Source.NOBODY
    assert holding_at(Plan(GLOBAL_ID, "empty", True, ()), utc("2026-06-01T00:00")).user_id is None


def test_one_person_rosters_still_hand_off_at_each_rotation() -> None:
    plan = standard("UTC", date(2026, 1, 1), 1, "09:00", ["hans"])
    shifts = schedule(plan, utc("2026-01-02T00:00"), utc("2026-01-04T00:00"))
    assert [s.start.isoformat() for s in shifts] == [
        "2026-01-02T00:00:00+00:00",
        "2026-01-02T09:00:00+00:00",
        "2026-01-03T09:00:00+00:00",
    ]


def test_schedule_has_no_holes_and_no_overlaps() -> None:
    start = utc("2026-03-20T00:00")
    end = start + timedelta(days=90)
    plan = global_primary(override(EMEA_ID, "xavier", "2026-03-28T00:00", "2026-04-02T12:00"))
    shifts = schedule(plan, start, end)
    assert shifts[0].start == start
    assert shifts[-1].end == end
    for before, after in itertools.pairwise(shifts):
        assert before.end == after.start
        assert before.start < before.end


def test_a_long_override_on_follow_the_sun_is_found_whole() -> None:
    """The search range grows from a day until it holds the shift: here ten days."""
    span = override(GLOBAL_ID, "yuki", "2026-01-10T03:00", "2026-01-20T05:00")
    shift = oncall_at(global_primary(span), utc("2026-01-13T12:00"))
    assert (shift.start, shift.end) == (span.start, span.end)
    assert not shift.open_start
    assert not shift.open_end
