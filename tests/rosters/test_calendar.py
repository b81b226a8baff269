"""iCal feeds, parsed back with ``icalendar``: zones, shifts, stable UIDs, token-only access."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import icalendar

from opswatch.audit.actor import Actor
from opswatch.models import Roster
from opswatch.rosters import calendar_tokens
from opswatch.rosters.feeds import roster_feed
from opswatch.rosters.rosters import set_members
from opswatch.tenants.users import create_user
from tests.factories import TenantKit, graphql
from tests.rosters.support import global_primary


async def feed_path(client: httpx.AsyncClient, token: str, query: str) -> str:
    body = await graphql(client, token, query)
    url: str = body["data"]
    while isinstance(url, dict):
        url = next(iter(url.values()))
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


async def test_roster_feed_parses_with_zones_and_every_shift(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    spec = await global_primary(acme.tenant)
    path = await feed_path(
        client, acme.viewer_token, f'{{ roster(id: "{spec.roster.id}") {{ calendarUrl }} }}'
    )
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    calendar = icalendar.Calendar.from_ical(response.content)
    zones = {str(z["TZID"]) for z in calendar.walk("VTIMEZONE")}
    assert zones == {"Europe/Berlin", "Pacific/Auckland"}
    events = calendar.walk("VEVENT")
    # Two windows a day (APAC and EMEA) over the 104-day window, and a little more
    # where April's overlap and gap split them.
    assert len(events) >= 200
    starts = [e.decoded("DTSTART") for e in events]
    assert starts == sorted(starts)
    emea = [e for e in events if "EMEA" in str(e["SUMMARY"])]
    for event in emea:
        local = event.decoded("DTSTART")
        assert local.tzinfo is not None
        assert str(event["DTSTART"].params["TZID"]) == "Europe/Berlin"
        # Every EMEA shift starts at 08:00 Berlin time, summer or winter.
        assert local.astimezone(ZoneInfo("Europe/Berlin")).strftime("%H:%M") == "08:00"
    uids = [str(e["UID"]) for e in events]
    assert len(uids) == len(set(uids))
    again = icalendar.Calendar.from_ical((await client.get(path)).content)
    assert [str(e["UID"]) for e in again.walk("VEVENT")] == uids


async def test_personal_feed_has_only_that_persons_shifts(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    spec = await global_primary(acme.tenant)
    katja = await create_user(
        tenant=acme.tenant, name="Katja", email="katja.login@acme.example", actor=Actor.cli()
    )
    assert katja.token is not None
    await set_members(
        roster=spec.emea,
        tenant=acme.tenant,
        actor=Actor.cli(),
        member_ids=[str(spec.people["Hans"].id), str(katja.user.id), str(spec.people["Lars"].id)],
    )
    path = await feed_path(client, katja.token, "{ viewer { calendarUrl } }")
    assert path == await feed_path(client, katja.token, "{ viewer { calendarUrl } }")
    response = await client.get(path)
    assert response.status_code == 200
    events = icalendar.Calendar.from_ical(response.content).walk("VEVENT")
    assert events
    assert all(
        str(e["SUMMARY"]).startswith("On call: Katja (Global Primary / EMEA)") for e in events
    )
    # Weekly EMEA rotation of three: Katja holds one week in three.
    now = datetime.now(UTC)
    upcoming = [e.decoded("DTSTART") for e in events if e.decoded("DTSTART") > now]
    assert upcoming
    assert max(upcoming) - min(upcoming) < timedelta(days=90)


async def test_unknown_tokens_and_sub_roster_tokens_are_404(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    spec = await global_primary(acme.tenant)
    assert (await client.get("/api/v1/calendars/rosters/nope.ics")).status_code == 404
    assert (await client.get("/api/v1/calendars/users/nope.ics")).status_code == 404
    sub = await Roster.get(id=spec.emea.id)
    assert sub.calendar_token_sealed is not None
    clear = calendar_tokens.reveal(sub.calendar_token_sealed)
    assert (await client.get(f"/api/v1/calendars/rosters/{clear}.ics")).status_code == 404
    # The database keeps the digest, never the clear token.
    assert sub.calendar_token != clear


async def test_shifts_keep_their_bounds_and_uids_as_the_window_moves(acme: TenantKit) -> None:
    spec = await global_primary(acme.tenant)
    roster = await Roster.get(id=spec.roster.id)
    assert roster.calendar_token_sealed is not None
    token = calendar_tokens.reveal(roster.calendar_token_sealed)
    moment = datetime(2026, 6, 1, 12, 30, tzinfo=UTC)
    feeds = []
    for later in (timedelta(0), timedelta(hours=5, minutes=7)):
        body = await roster_feed(token, now=moment + later)
        assert body is not None
        events = icalendar.Calendar.from_ical(body).walk("VEVENT")
        feeds.append({str(e["UID"]): (e.decoded("DTSTART"), e.decoded("DTEND")) for e in events})
    shared = set(feeds[0]) & set(feeds[1])
    assert len(shared) > 150
    assert all(feeds[0][uid] == feeds[1][uid] for uid in shared)
    first = min(feeds[0].values())
    # The earliest shift is a whole window, not cut at "two weeks ago".
    assert first[0].astimezone(UTC).minute == 0
