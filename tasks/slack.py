"""Jobs of the Slack app."""

from __future__ import annotations

import uuid
from typing import Any

from opswatch.alerts.actions import SLACK_SYNC_JOB
from opswatch.http.slack import CLICK_JOB, COMMAND_JOB, EVENT_JOB
from opswatch.knowledge.incidents import WAR_ROOM_JOB
from opswatch.models import Tenant
from opswatch.queue import job
from opswatch.slack import alert_sync, commands, direct, events, interactions, war_room
from opswatch.slack.workspace import client_for
from tasks.scheduler import periodic

NOTICES_JOB = "slack.deliver_notices"


@job(SLACK_SYNC_JOB, queue_name="slack", max_retries=3)
async def sync_alerts_job() -> None:
    # A failing workspace puts its alerts back as due later; the periodic run takes them.
    await alert_sync.sync_due()


@job(NOTICES_JOB, queue_name="slack", max_retries=3)
async def deliver_notices_job() -> None:
    await direct.deliver_notices()


@job(WAR_ROOM_JOB, queue_name="slack", max_retries=5)
async def war_room_job(incident_id: str) -> None:
    await war_room.sync(uuid.UUID(incident_id))


@job(COMMAND_JOB, queue_name="slack", max_retries=2)
async def command_job(tenant_id: str, slack_user_id: str, text: str, response_url: str) -> None:
    tenant = await Tenant.get_or_none(id=uuid.UUID(tenant_id))
    if tenant is None:
        return
    reply = await commands.run(tenant, slack_user_id, text, client_for(tenant))
    await interactions.respond({"response_url": response_url}, reply)


@job(CLICK_JOB, queue_name="slack", max_retries=2)
async def click_job(tenant_id: str, payload: dict[str, Any]) -> None:
    tenant = await Tenant.get_or_none(id=uuid.UUID(tenant_id))
    if tenant is not None:
        await interactions.handle_click(tenant, payload)


@job(EVENT_JOB, queue_name="slack", max_retries=2)
async def event_job(tenant_id: str, envelope: dict[str, Any]) -> None:
    tenant = await Tenant.get_or_none(id=uuid.UUID(tenant_id))
    if tenant is not None:
        await events.handle_event(tenant, envelope)


# Catches what a lost wake-up, a crashed job or a Slack outage left due.
periodic(SLACK_SYNC_JOB, every_seconds=10)
periodic(NOTICES_JOB, every_seconds=10)
