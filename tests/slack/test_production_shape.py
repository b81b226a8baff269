"""The production shape: a real ``opswatch worker`` subprocess takes the jobs from
Redis, posts the alert to the fake Slack, runs a slash command, and updates the
message in place."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from opswatch.alerts import inbox
from opswatch.alerts.normalize import parse_generic
from opswatch.models import Alert, AlertStatus
from tests.slack.support import ALERT_CHANNEL, SIGNING_SECRET, SlackKit
from tests.workers import production_worker


async def _eventually(check: Callable[[], bool], seconds: float = 20.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the worker did not get there in time")


async def test_a_real_worker_posts_and_updates_the_alert_message(
    slack: SlackKit, test_env: dict[str, str]
) -> None:
    extra = {
        "OPSWATCH_SLACK_API_URL": f"{slack.fake.url}/api/",
        "OPSWATCH_SLACK_SIGNING_SECRET": SIGNING_SECRET,
    }
    async with production_worker(test_env, slack.runtime, extra):
        payload = {"title": "Replication lag", "severity": "critical", "fingerprint": "lag"}
        await inbox.accept(
            tenant=slack.tenant, api_key=None, events=parse_generic(payload, {}), raw=payload
        )
        await _eventually(lambda: len(slack.fake.messages_in(ALERT_CHANNEL)) == 1)
        [message] = slack.fake.messages_in(ALERT_CHANNEL)
        alert = await Alert.get(tenant=slack.tenant, fingerprint="lag")

        response = await slack.command(f"ack {alert.short_id}")
        assert response.status_code == 200
        assert response.content == b""  # answered at once; the work is the worker's
        url = slack.last_response_url
        await _eventually(lambda: len(slack.fake.responses[url]) == 1)
        assert "You acknowledged" in slack.fake.responses[url][0]["text"]
        await _eventually(lambda: len(slack.fake.message(ALERT_CHANNEL, message.ts).versions) == 2)
        await alert.refresh_from_db()
        assert alert.status is AlertStatus.ACKNOWLEDGED
