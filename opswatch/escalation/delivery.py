"""Sending one escalation event: each is sent at most once, one person is not called
(or texted) more than once a minute, and a provider outage costs bounded work.

A job first asks the tenant's provider breaker (``breaker``): while it is open,
the job leaves its event pending ("parked") and ends, after one or two reads;
the resume job (``resume``) brings parked events back once the provider may be
tried again. Otherwise, on PostgreSQL it takes the person's advisory lock
(channel and number) before it touches any row, so that two jobs for one
person are taken in turn and never hold a row the other waits for. If the
person was reached on that channel within ``THROTTLE`` (or a message to them is
being sent), the event stays pending; only the job of the oldest pending event
comes back when the window ends, not one job per event. Else it claims its
event (pending -> sending, one conditional UPDATE: a second copy of the job, or
a retry after a crash, finds nothing to claim) and up to ``COMPANION_LIMIT``
other pending events of that person and channel (``SKIP LOCKED``), and sends
one summary for all of them (a storm of 50 alerts is one call, not 50). What
the provider said is recorded on every event it covered; events beyond the
limit go out in the next summary, a window later.

The provider failing puts the claimed events back to pending and opens the
breaker; nothing is retried through the queue. A timeout records the events
as unknown (maybe sent: never sent again) and opens the breaker too.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from opswatch import runtime
from opswatch.escalation import breaker, messages
from opswatch.escalation.breaker import Gate
from opswatch.escalation.providers.base import (
    CallLinks,
    OutcomeUnknown,
    ProviderUnavailable,
    Rejected,
    Sent,
)
from opswatch.escalation.providers.log import LogProvider
from opswatch.logs import channel_label, delivery_failed, person_label
from opswatch.metrics.definitions import ESCALATION_LATENESS, PAGES, provider_request
from opswatch.models import (
    Alert,
    AlertStatus,
    Channel,
    DeliveryStatus,
    EscalationEvent,
    Service,
    Tenant,
    User,
)
from opswatch.queue import enqueue
from opswatch.slack import direct
from opswatch.slack.workspace import client_for
from opswatch.sql import Statement
from opswatch.tenants.telephony import provider_for

log = logging.getLogger(__name__)

THROTTLE = timedelta(seconds=60)
IN_FLIGHT_RECHECK = timedelta(seconds=2)
# Events one summary covers at most: the claim and the statements that record the
# outcome stay bounded however large a storm is.
COMPANION_LIMIT = 500
DELIVER_JOB = "escalation.deliver"
RESUME_JOB = "escalation.resume_pending"
THROTTLED_CHANNELS = (Channel.PHONE, Channel.SMS)
REACHED = (
    DeliveryStatus.QUEUED,
    DeliveryStatus.SENT,
    DeliveryStatus.DELIVERED,
    DeliveryStatus.ANSWERED,
    DeliveryStatus.NO_ANSWER,
)


@dataclass(frozen=True)
class Claim:
    event: EscalationEvent
    companions: list[EscalationEvent]
    # The oldest event of this person and channel still pending after the claim: it
    # comes next, and the summary says that more are waiting.
    next_pending: uuid.UUID | None = None


@dataclass(frozen=True)
class Wait:
    """Not now: the person was reached a moment ago, or is being reached, or the
    provider's breaker opened since the job was admitted."""

    delay: timedelta
    comes_back: bool  # this job is the one to try again after ``delay``


async def deliver(event_id: uuid.UUID, now: datetime | None = None) -> DeliveryStatus | None:
    """Send one event (and whatever it can carry along). None: there was nothing to do;
    PENDING: it is left for later (provider unavailable, or the person reached lately)."""
    moment = now or datetime.now(UTC)
    event = await EscalationEvent.get_or_none(id=event_id, status=DeliveryStatus.PENDING)
    if event is None:
        return None
    tenant = await Tenant.get(id=event.tenant_id)  # type: ignore[attr-defined]
    provider = provider_name(tenant, event.channel)
    admission = await breaker.admit(tenant.id, provider, moment)
    if admission.gate is Gate.OPEN:
        return DeliveryStatus.PENDING
    try:
        return await _deliver_admitted(event, tenant, provider, admission, moment)
    finally:
        if admission.probe_until is not None:
            await breaker.end_probe(tenant.id, provider, admission.probe_until)


def provider_name(tenant: Tenant, channel: Channel) -> str:
    """Which provider carries this tenant's messages on this channel (the breaker's
    key), without building a client."""
    embedded = runtime.current().settings.embedded
    if channel in (Channel.SLACK_DM, Channel.SLACK_CHANNEL):
        return direct.PROVIDER if tenant.slack_team_id or not embedded else LogProvider.name
    chosen = (tenant.settings.get("telephony") or {}).get("provider")
    if chosen:
        return str(chosen)
    return LogProvider.name if embedded else "none"


async def _deliver_admitted(
    event: EscalationEvent,
    tenant: Tenant,
    provider: str,
    admission: breaker.Admission,
    moment: datetime,
) -> DeliveryStatus | None:
    claim = await _claim(event, provider, admission, moment)
    if not isinstance(claim, Claim):
        return claim
    events = [claim.event, *claim.companions]
    alerts = {a.id: a for a in await Alert.filter(id__in=[e.alert_id for e in events])}  # type: ignore[attr-defined]
    live = [e for e in events if _still_wanted(e, alerts[e.alert_id])]  # type: ignore[attr-defined]
    dropped = [e for e in events if e not in live]
    if dropped:
        await _finish(dropped, DeliveryStatus.CANCELED, reason="acknowledged or resolved first")
    if not live:
        await _follow_up(claim, after=timedelta(0))
        return DeliveryStatus.CANCELED
    primary = live[0]
    covered = [alerts[e.alert_id] for e in live]  # type: ignore[attr-defined]
    more_waiting = claim.next_pending is not None
    ESCALATION_LATENESS.observe(max(0.0, (datetime.now(UTC) - primary.created_at).total_seconds()))
    try:
        sent, text, used = await _send(tenant, primary, covered, more_waiting=more_waiting)
    except ProviderUnavailable as error:
        # Opened first: a job that takes this person's lock once the rows are pending
        # again finds it open and leaves them alone.
        await _open_breaker(tenant, provider, moment, str(error))
        await _release(live)
        return DeliveryStatus.PENDING
    except Rejected as error:
        await _finish(live, DeliveryStatus.FAILED, reason=str(error))
        PAGES.labels(primary.channel.name, DeliveryStatus.FAILED.name).inc()
        await _log_gave_up(tenant, primary, covered, DeliveryStatus.FAILED, str(error))
        await _close_breaker(tenant, provider)  # it answered: it is up
        await _follow_up(claim, after=timedelta(0))
        return DeliveryStatus.FAILED
    except OutcomeUnknown as error:
        await _finish(live, DeliveryStatus.UNKNOWN, reason=str(error))
        PAGES.labels(primary.channel.name, DeliveryStatus.UNKNOWN.name).inc()
        await _log_gave_up(tenant, primary, covered, DeliveryStatus.UNKNOWN, str(error))
        await _open_breaker(tenant, provider, moment, str(error))
        return DeliveryStatus.UNKNOWN
    await _record_sent(live, sent, text, used, moment)
    PAGES.labels(primary.channel.name, sent.status.name).inc()
    await _close_breaker(tenant, provider)
    await _follow_up(claim, after=THROTTLE)
    return sent.status


async def _record_sent(
    live: list[EscalationEvent], sent: Sent, text: str, provider: str, moment: datetime
) -> None:
    """The first event carries the provider's answer; the others were in its summary."""
    primary, *folded = live
    sent_with = {"ref": sent.provider_ref, "text": text, "sent_at": moment, "provider": provider}
    await _finish([primary], sent.status, **sent_with)  # type: ignore[arg-type]
    if folded:
        await _finish(
            folded,
            DeliveryStatus.THROTTLED,
            reason=f"included in the summary sent for event {primary.id}",
            **sent_with,  # type: ignore[arg-type]
        )


def _still_wanted(event: EscalationEvent, alert: Alert) -> bool:
    """Resolved: never. Acknowledged after this page was decided: no longer needed.
    (An acknowledged alert someone escalated on purpose still pages.)"""
    if alert.status is AlertStatus.RESOLVED:
        return False
    acknowledged = alert.acknowledged_at
    return not (
        alert.status is AlertStatus.ACKNOWLEDGED
        and acknowledged is not None
        and acknowledged >= event.created_at
    )


async def _log_gave_up(
    tenant: Tenant,
    event: EscalationEvent,
    alerts: list[Alert],
    status: DeliveryStatus,
    reason: str,
) -> None:
    """One WARNING per page that failed or may not have arrived, however many alerts
    its summary covered (the first is named; the count says how many more)."""
    user_id = event.user_id  # type: ignore[attr-defined]
    user = await User.get_or_none(id=user_id) if user_id else None
    more = f" (and {len(alerts) - 1} more alerts)" if len(alerts) > 1 else ""
    delivery_failed(
        log,
        f"page {status.value}{more}",
        tenant=tenant.slug,
        alert=alerts[0].short_id,
        person=person_label(user_id, user.name if user else None) if user_id else None,
        channel=channel_label(
            event.channel.name,
            event.to_address if event.channel is Channel.SLACK_CHANNEL else None,
        ),
        reason=reason,
    )


async def _open_breaker(tenant: Tenant, provider: str, now: datetime, error: str) -> None:
    opened = await breaker.trip(tenant.id, provider, now, error)
    if opened is None:
        return  # another job of this outage opened it, and woke the resume job
    log.warning(
        "%s is unavailable for tenant %s (%s); its pages wait until %s",
        provider,
        tenant.slug,
        error,
        opened.until.isoformat(),
    )
    # Whoever opened it wakes the resume job when it may be tried again, sooner than
    # the periodic run would.
    delay_ms = max(1, int((opened.until - now).total_seconds() * 1000))
    await enqueue(RESUME_JOB, delay_ms=delay_ms, settle_seconds=0.0)


async def _close_breaker(tenant: Tenant, provider: str) -> None:
    if await breaker.close(tenant.id, provider, datetime.now(UTC)):
        log.info("%s takes messages again for tenant %s", provider, tenant.slug)
        await enqueue(RESUME_JOB, settle_seconds=0.0)  # what waited for it goes now


async def _follow_up(claim: Claim, *, after: timedelta) -> None:
    """Events of this person left pending by the claim's limit go in the next summary."""
    if claim.next_pending is not None:
        delay_ms = int(after.total_seconds() * 1000)
        await enqueue(DELIVER_JOB, delay_ms=delay_ms, event_id=str(claim.next_pending))


async def _claim(
    event: EscalationEvent, provider: str, admission: breaker.Admission, now: datetime
) -> Claim | DeliveryStatus | None:
    claim = await _claim_in_transaction(event, provider, admission, now)
    if isinstance(claim, Wait):
        if claim.comes_back:
            # Enqueued after the commit: a job scheduled inside the transaction would
            # inherit it as its database connection and run on a finished transaction.
            delay_ms = max(1, int(claim.delay.total_seconds() * 1000))
            await enqueue(DELIVER_JOB, delay_ms=delay_ms, event_id=str(event.id))
        return DeliveryStatus.PENDING
    return claim


async def _claim_in_transaction(
    event: EscalationEvent, provider: str, admission: breaker.Admission, now: datetime
) -> Claim | Wait | None:
    """The claim; or why not now; or None (nothing to do: another job took it)."""
    async with in_transaction() as connection:
        sql = Statement(connection)
        if event.channel not in THROTTLED_CHANNELS or not event.to_address:
            return Claim(event, []) if await _take(sql, event.id, now) else None
        if not sql.sqlite:
            # First, before any row: one claim per person and channel at a time (SQLite
            # has one writer anyway), so two jobs never both find "nothing sent lately".
            # A job holding its own row while it waited here deadlocked with the holder.
            await sql.rows(
                "SELECT pg_advisory_xact_lock(hashtext(:key))",
                key=f"page:{event.channel.value}:{event.to_address}",
            )
        tenant_id: uuid.UUID = event.tenant_id  # type: ignore[attr-defined]
        if not await breaker.still_admits(admission, tenant_id, provider, now, connection):
            return Wait(timedelta(0), comes_back=False)  # the resume job brings it back
        wait = await _wait_before_reaching(connection, event, now)
        if wait is not None:
            oldest = await _oldest_pending(sql, event)
            return Wait(wait, comes_back=oldest == event.id)
        if not await _take(sql, event.id, now):
            return None
        companion_ids = await _take_companions(sql, event, now)
        next_pending = await _oldest_pending(sql, event)
        companions = (
            await EscalationEvent.filter(id__in=companion_ids)
            .using_db(connection)
            .order_by("created_at")
            if companion_ids
            else []
        )
    return Claim(event, list(companions), next_pending)


async def _take(sql: Statement, event_id: uuid.UUID, now: datetime) -> bool:
    rows = await sql.rows(
        "UPDATE escalation_event SET status = 'sending', attempts = attempts + 1, "
        "updated_at = :now WHERE id = :id AND status = 'pending' RETURNING id",
        id=event_id,
        now=now,
    )
    return bool(rows)


async def _take_companions(sql: Statement, event: EscalationEvent, now: datetime) -> list[str]:
    """Up to COMPANION_LIMIT other pending events of this tenant's person and channel,
    oldest first; rows another transaction holds are skipped, never waited for.

    The pick is a CTE, which PostgreSQL runs once. As ``WHERE id IN (SELECT ... LIMIT
    n FOR UPDATE SKIP LOCKED)`` the planner may re-run the subquery for each row it
    updates, and each run skips the rows the statement has just updated, and picks the
    next ones: it claimed every pending event of the person, limit or not. PostgreSQL
    gets the picked ids as one array, which it looks up by primary key; as a set to
    join, it hashed every pending event of the storm to update 500 of them."""
    skip_locked = "" if sql.sqlite else " FOR UPDATE SKIP LOCKED"
    picked = (
        "id IN (SELECT id FROM picked)" if sql.sqlite else "id = ANY(ARRAY(SELECT id FROM picked))"
    )
    rows = await sql.rows(
        "WITH picked AS (SELECT id FROM escalation_event "  # noqa: S608
        "WHERE tenant_id = :tenant AND channel = :channel "
        "AND to_address = :to AND status = 'pending' AND id <> :id "
        f"ORDER BY created_at LIMIT {COMPANION_LIMIT}{skip_locked}) "
        "UPDATE escalation_event SET status = 'sending', attempts = attempts + 1, "
        f"updated_at = :now WHERE status = 'pending' AND {picked} RETURNING id",
        tenant=event.tenant_id,  # type: ignore[attr-defined]
        channel=event.channel.value,
        to=event.to_address,
        id=event.id,
        now=now,
    )
    return [row["id"] for row in rows]


async def _oldest_pending(sql: Statement, event: EscalationEvent) -> uuid.UUID | None:
    rows = await sql.rows(
        "SELECT id FROM escalation_event WHERE tenant_id = :tenant AND channel = :channel "
        "AND to_address = :to AND status = 'pending' ORDER BY created_at, id LIMIT 1",
        tenant=event.tenant_id,  # type: ignore[attr-defined]
        channel=event.channel.value,
        to=event.to_address,
    )
    return uuid.UUID(str(rows[0]["id"])) if rows else None


async def _wait_before_reaching(
    connection: BaseDBAsyncClient, event: EscalationEvent, now: datetime
) -> timedelta | None:
    """None when this person may be reached on this channel now; else how long to
    wait: until the window of the last message ends, or briefly while another
    message to them is being sent (it will carry what is pending, or fail and
    leave it for us)."""
    in_flight = (
        await EscalationEvent.filter(
            to_address=event.to_address,
            channel=event.channel,
            status=DeliveryStatus.SENDING,
            updated_at__gt=now - THROTTLE,
        )
        .exclude(id=event.id)
        .using_db(connection)
        .exists()
    )
    if in_flight:
        return IN_FLIGHT_RECHECK
    last = (
        await EscalationEvent.filter(
            to_address=event.to_address,
            channel=event.channel,
            sent_at__gt=now - THROTTLE,
            status__in=[*REACHED, DeliveryStatus.THROTTLED],
        )
        .using_db(connection)
        .order_by("-sent_at")
        .first()
    )
    if last is None or last.sent_at is None:
        return None
    return last.sent_at + THROTTLE - now


async def _send(
    tenant: Tenant, event: EscalationEvent, alerts: list[Alert], *, more_waiting: bool
) -> tuple[Sent, str, str]:
    """What was sent, its text, and through which provider."""
    current = runtime.current()
    service_ids = [a.service_id for a in alerts if a.service_id]  # type: ignore[attr-defined]
    services: dict[object, Service] = {s.id: s for s in await Service.filter(id__in=service_ids)}
    if event.channel in (Channel.SLACK_DM, Channel.SLACK_CHANNEL):
        client = client_for(tenant)
        if client is not None:
            with provider_request(direct.PROVIDER, event.channel.value):
                sent, text = await direct.page(client, event, alerts[0])
            return sent, text, direct.PROVIDER
        text = messages.sms_text(alerts, services)
        if not current.settings.embedded:
            raise Rejected("Slack is not connected for this tenant")
        logger = LogProvider()
        return await logger.message(to=event.to_address or "", body=text), text, logger.name
    provider = provider_for(tenant, current.settings, current.secret_box)
    if provider is None:
        raise Rejected("no telephony provider is configured for this tenant")
    to = event.to_address or ""
    base = current.settings.public_url
    path = "vonage" if provider.name == "vonage" else "twilio"
    alert = alerts[0]
    ids = f"alert_id={alert.id}&event_id={event.id}"
    if event.channel is Channel.PHONE:
        script = messages.call_script(alerts, services, more_waiting=more_waiting)
        links = CallLinks(
            gather_url=f"{base}/api/v1/{path}/gather?{ids}&attempt=1",
            no_input_url=f"{base}/api/v1/{path}/gather?{ids}&attempt=1&timeout=1",
            status_url=f"{base}/api/v1/{path}/status?event_id={event.id}",
        )
        with provider_request(provider.name, "call"):
            called = await provider.call(to=to, script=script, links=links)
        return called, script, provider.name
    text = messages.sms_text(alerts, services, more_waiting=more_waiting)
    status_url = f"{base}/api/v1/{path}/status?event_id={event.id}"
    with provider_request(provider.name, "text"):
        texted = await provider.text(to=to, body=text, status_url=status_url)
    return texted, text, provider.name


async def _finish(
    events: list[EscalationEvent],
    status: DeliveryStatus,
    *,
    ref: str | None = None,
    text: str | None = None,
    sent_at: datetime | None = None,
    reason: str | None = None,
    provider: str | None = None,
) -> None:
    values: dict[str, object] = {"status": status, "updated_at": datetime.now(UTC)}
    if ref is not None:
        values["provider_ref"] = ref
    if text is not None:
        values["message"] = text
    if sent_at is not None:
        values["sent_at"] = sent_at
    if reason is not None:
        values["reason"] = reason
    if provider is not None:
        values["provider"] = provider
    await EscalationEvent.filter(id__in=[e.id for e in events]).update(**values)


async def _release(events: list[EscalationEvent]) -> None:
    """Back to pending: only the rows this attempt claimed (at most COMPANION_LIMIT + 1)."""
    await EscalationEvent.filter(
        id__in=[e.id for e in events], status=DeliveryStatus.SENDING
    ).update(status=DeliveryStatus.PENDING)
