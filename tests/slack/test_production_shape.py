"""The production shape: a real ``opswatch worker`` subprocess takes the jobs from
Redis, posts the alert to the fake Slack, runs a slash command, and updates the
message in place."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

from opswatch import runtime
from opswatch.alerts import inbox
from opswatch.alerts.normalize import parse_generic
from opswatch.config import load_settings
from opswatch.events.memory import MemoryEventBus
from opswatch.models import Alert, AlertStatus
from opswatch.runtime import Runtime
from tasks.broker import DramatiqQueue, build_broker
from tests.conftest import require_redis
from tests.slack.support import ALERT_CHANNEL, SIGNING_SECRET, SlackKit


async def _eventually(check: Callable[[], bool], seconds: float = 20.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the worker did not get there in time")


async def test_a_real_worker_posts_and_updates_the_alert_message(
    slack: SlackKit, test_env: dict[str, str]
) -> None:
    redis_url = require_redis()
    env = {
        **test_env,
        "OPSWATCH_REDIS_URL": redis_url,
        "OPSWATCH_REDIS_NAMESPACE": f"opswatch-test-{uuid.uuid4().hex[:8]}",
        "OPSWATCH_SLACK_API_URL": f"{slack.fake.url}/api/",
        "OPSWATCH_SLACK_SIGNING_SECRET": SIGNING_SECRET,
    }
    settings = load_settings(env)
    broker = build_broker(settings)
    app_runtime = slack.runtime
    production = Runtime(settings, app_runtime.secret_box, DramatiqQueue(broker), MemoryEventBus())
    runtime.install(production)
    worker = subprocess.Popen(
        [str(Path(sys.executable).parent / "opswatch"), "worker", "--threads", "4"],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
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
    finally:
        runtime.install(app_runtime)
        worker.terminate()
        output, _ = worker.communicate(timeout=30)
        broker.flush_all()
        await production.queue.stop()
    assert worker.returncode == 0, output
