"""Handoffs: noticing each change of who holds a roster's pager, and telling both people.

A scheduler tick looks back over the last ``LOOKBACK`` for schedule edges
(rotation handoffs, coverage windows, overrides starting or ending) where the
holder changed. Each becomes one Handoff row, unique per (roster, instant);
the row, its notices and its audit entry commit together, so with two
schedulers (or a retried tick) exactly one of them announces it: the other's
insert hits the unique index and rolls back. The live ``oncallChanged`` event
is published after that commit.
"""

from __future__ import annotations

import itertools
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from tortoise.exceptions import IntegrityError
from tortoise.functions import Count
from tortoise.transactions import in_transaction

from opswatch import runtime
from opswatch.audit.actor import Actor
from opswatch.audit.log import record
from opswatch.events.base import LiveEvent
from opswatch.models import (
    Alert,
    AlertStatus,
    Channel,
    Handoff,
    Incident,
    IncidentStatus,
    Notification,
    Roster,
    Service,
    Severity,
    User,
)
from opswatch.rosters.plans import load_plans
from opswatch.rosters.resolve import REACH, Holding, holding_at, schedule

log = logging.getLogger(__name__)

TOPIC = "oncall"
# Handoffs older than this when first noticed (the scheduler was down) are not announced.
LOOKBACK = timedelta(minutes=30)
PAGE = 200
REPORT_ALERTS = 20
SEVERITY_ORDER = [s.value for s in Severity]  # critical first

Changed = TypeVar("Changed")


@dataclass(frozen=True)
class Change:
    roster: Roster
    at: datetime
    before: Holding
    after: Holding


async def detect_handoffs(now: datetime | None = None) -> list[Handoff]:
    """Announce every handoff of the last ``LOOKBACK`` not yet announced; safe to run
    concurrently and repeatedly."""
    moment = now or datetime.now(UTC)
    announced: list[Handoff] = []
    after_id: uuid.UUID | None = None
    while True:
        query = Roster.filter(parent_id=None).order_by("id").limit(PAGE)
        if after_id is not None:
            query = query.filter(id__gt=after_id)
        page = await query
        if not page:
            return announced
        after_id = page[-1].id
        for change in await _changes(page, moment):
            handoff = await _announce(change)
            if handoff is not None:
                announced.append(handoff)


async def announcing_holder_changes(
    tenant_id: uuid.UUID, change: Callable[[], Awaitable[Changed]], now: datetime | None = None
) -> tuple[Changed, list[Handoff]]:
    """Run ``change`` and announce, right away, each of the tenant's rosters whose holder
    it changed at ``now``. Taking someone out of every rotation (deactivating them)
    hands their pager over mid-shift, at no schedule edge, so the tick would never
    see it: the holders are compared before and after instead."""
    moment = now or datetime.now(UTC)
    rosters = await Roster.filter(tenant_id=tenant_id, parent_id=None).order_by("id")

    async def holders() -> dict[uuid.UUID, Holding]:
        plans = await load_plans(rosters, moment - REACH, moment + REACH)
        return {roster.id: holding_at(plans[roster.id], moment) for roster in rosters}

    before = await holders()
    result = await change()
    after = await holders()
    announced = []
    for roster in rosters:
        if before[roster.id].user_id != after[roster.id].user_id:
            handoff = await _announce(Change(roster, moment, before[roster.id], after[roster.id]))
            if handoff is not None:
                announced.append(handoff)
    return result, announced


async def _changes(rosters: list[Roster], now: datetime) -> list[Change]:
    start = now - LOOKBACK
    plans = await load_plans(rosters, start - REACH, now + REACH)
    known = {
        (roster_id, at.astimezone(UTC))
        for roster_id, at in await Handoff.filter(
            roster_id__in=[r.id for r in rosters], shift_start__gte=start
        ).values_list("roster_id", "shift_start")
    }
    changes = []
    for roster in rosters:
        shifts = schedule(plans[roster.id], start, now)
        for before, after in itertools.pairwise(shifts):
            if before.holding != after.holding and (roster.id, after.start) not in known:
                changes.append(Change(roster, after.start, before.holding, after.holding))
    return changes


async def _announce(change: Change) -> Handoff | None:
    roster = change.roster
    user_ids = [i for i in (change.before.user_id, change.after.user_id) if i is not None]
    users = {u.id: u for u in await User.filter(id__in=user_ids)}
    report = await _report(change, users)
    tenant_id: uuid.UUID = roster.tenant_id  # type: ignore[attr-defined]
    try:
        async with in_transaction() as connection:
            handoff = await Handoff.create(
                tenant_id=tenant_id,
                roster=roster,
                shift_start=change.at,
                outgoing_id=change.before.user_id,
                incoming_id=change.after.user_id,
                report=report,
                notified_at=datetime.now(UTC),
                using_db=connection,
            )
            if change.before.user_id != change.after.user_id:
                for notice in _notices(handoff, report):
                    await Notification.create(tenant_id=tenant_id, using_db=connection, **notice)
            await record(
                tenant_id=tenant_id,
                actor=Actor.system("scheduler"),
                action="roster.handoff",
                target_type="roster",
                target_id=roster.id,
                data={"before": report["outgoing"], "after": report["incoming"]},
                connection=connection,
            )
    except IntegrityError:
        return None  # another scheduler announced it first
    await runtime.current().events.publish(
        LiveEvent(
            topic=TOPIC,
            tenant_id=str(tenant_id),
            kind="HANDOFF",
            data={
                "roster_id": str(roster.id),
                "handoff_id": str(handoff.id),
                "at": change.at.isoformat(),
            },
        )
    )
    log.info("handoff on roster %s at %s", roster.id, change.at.isoformat())
    return handoff


def report_link(roster_id: uuid.UUID, handoff_id: uuid.UUID) -> str:
    """The handoff report page; signed, because chat links carry no login."""
    current = runtime.current()
    signature = current.secret_box.sign(f"handoff:{handoff_id}")
    return f"{current.settings.public_url}/rosters/{roster_id}/handoff/{handoff_id}?sig={signature}"


def link_is_valid(handoff_id: uuid.UUID, signature: str) -> bool:
    return runtime.current().secret_box.signature_matches(f"handoff:{handoff_id}", signature)


async def _report(change: Change, users: dict[uuid.UUID, User]) -> dict[str, Any]:
    """What was open on the roster's services at the handoff, and who held the pager."""
    roster_ids = [change.roster.id] + [
        r.id for r in await Roster.filter(parent_id=change.roster.id).only("id")
    ]
    service_ids = list(await Service.filter(roster_id__in=roster_ids).values_list("id", flat=True))
    open_alerts = Alert.filter(
        service_id__in=service_ids, status__in=[AlertStatus.FIRING, AlertStatus.ACKNOWLEDGED]
    )
    counts = {
        row["severity"]: row["n"]
        for row in await open_alerts.annotate(n=Count("id"))
        .group_by("severity")
        .values("severity", "n")
    }
    rows = (
        await open_alerts.order_by("-last_received_at")
        .limit(REPORT_ALERTS * 5)
        .prefetch_related("acknowledged_by", "incident")
    )
    rows.sort(
        key=lambda a: (SEVERITY_ORDER.index(a.severity.value), -a.last_received_at.timestamp())
    )
    names = {
        r.id: r.name
        for r in await Roster.filter(id__in=[change.before.roster_id, change.after.roster_id])
    }
    return {
        "at": change.at.isoformat(),
        "roster": {"id": str(change.roster.id), "name": change.roster.name},
        "outgoing": _holder(change.before, users, names),
        "incoming": _holder(change.after, users, names),
        "open": {
            "total": sum(counts.values()),
            "by_severity": {s: counts[s] for s in SEVERITY_ORDER if counts.get(s)},
        },
        "alerts": [_alert_line(a) for a in rows[:REPORT_ALERTS]],
    }


def _holder(
    holding: Holding, users: dict[uuid.UUID, User], names: dict[uuid.UUID, str]
) -> dict[str, Any]:
    user = users.get(holding.user_id) if holding.user_id else None
    return {
        "user_id": str(user.id) if user else None,
        "name": user.name if user else None,
        "roster_id": str(holding.roster_id),
        "roster_name": names.get(holding.roster_id),
        "source": holding.source.value,
        "coverage_gap": holding.coverage_gap,
    }


def _alert_line(alert: Alert) -> dict[str, Any]:
    incident: Incident | None = alert.incident
    acknowledged_by: User | None = alert.acknowledged_by
    return {
        "id": str(alert.id),
        "short_id": alert.short_id,
        "severity": alert.severity.value,
        "title": alert.title,
        "cluster": (alert.labels or {}).get("cluster"),
        "status": alert.status.value,
        "acknowledged_by": acknowledged_by.name if acknowledged_by else None,
        "investigating": incident is not None and incident.status is IncidentStatus.INVESTIGATING,
    }


def _notices(handoff: Handoff, report: dict[str, Any]) -> list[dict[str, Any]]:
    link = report_link(handoff.roster_id, handoff.id)  # type: ignore[attr-defined]
    notices = []
    outgoing, incoming = report["outgoing"]["user_id"], report["incoming"]["user_id"]
    if outgoing:
        notices.append(
            {
                "user_id": uuid.UUID(outgoing),
                "dedup_key": f"handoff:{handoff.id}:outgoing",
                "kind": "handoff.outgoing",
                "channel": Channel.SLACK_DM,
                "text": outgoing_text(report, link),
                "payload": {"handoff_id": str(handoff.id), "link": link},
            }
        )
    if incoming:
        notices.append(
            {
                "user_id": uuid.UUID(incoming),
                "dedup_key": f"handoff:{handoff.id}:incoming",
                "kind": "handoff.incoming",
                "channel": Channel.SLACK_DM,
                "text": incoming_text(report, link),
                "payload": {"handoff_id": str(handoff.id), "link": link},
            }
        )
    return notices


def outgoing_text(report: dict[str, Any], link: str) -> str:
    """Spec 4.3: "Your on-call shift is ending. Open incidents: 2 (1 critical, 1 warning).\""""
    total = report["open"]["total"]
    parts = ", ".join(f"{n} {severity}" for severity, n in report["open"]["by_severity"].items())
    counted = f"{total} ({parts})" if parts else f"{total}"
    return f"Your on-call shift is ending. Open incidents: {counted}.\n<{link}|View Handoff Report>"


def incoming_text(report: dict[str, Any], link: str) -> str:
    """Spec 4.3: "You are now on-call for Global Primary. Open incidents: 2." and one line each."""
    lines = [
        f"You are now on-call for {report['roster']['name']}. "
        f"Open incidents: {report['open']['total']}."
    ]
    for alert in report["alerts"]:
        where = f" (cluster {alert['cluster']})" if alert["cluster"] else ""
        if alert["acknowledged_by"]:
            state = f"acknowledged by {alert['acknowledged_by']}"
        elif alert["investigating"]:
            state = "investigating"
        else:
            state = "not acknowledged"
        lines.append(f"- {alert['severity'].upper()}: {alert['title']}{where} — {state}")
    hidden = report["open"]["total"] - len(report["alerts"])
    if hidden > 0:
        lines.append(f"- and {hidden} more")
    lines.append(f"<{link}|View Dashboard>")
    return "\n".join(lines)
