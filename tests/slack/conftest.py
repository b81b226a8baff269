"""A tenant connected to a fake Slack workspace, with OpsWatch's Slack settings
pointing the real ``AsyncWebClient`` at the fake."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import httpx
import pytest

from opswatch import runtime
from opswatch.audit.actor import Actor
from opswatch.config import Settings
from opswatch.http.app import create_app
from opswatch.slack import bursts, people
from opswatch.slack.workspace import SlackConfig, configure_slack
from tests.factories import TenantKit, make_tenant
from tests.fakes.slack import FakeSlack
from tests.slack.support import (
    ADMIN_SLACK,
    ALERT_CHANNEL,
    BOT_TOKEN,
    BOT_USER,
    SIGNING_SECRET,
    TEAM,
    VIEWER_SLACK,
    SlackKit,
)


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake


@pytest.fixture
async def slack_settings(
    settings: Settings, app_runtime: runtime.Runtime, fake_slack: FakeSlack
) -> AsyncIterator[Settings]:
    """This test's runtime, with Slack configured (the session's settings are shared)."""
    changed = dataclasses.replace(
        settings,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=f"{fake_slack.url}/api/",
        slack_client_id="1234.5678",
        slack_client_secret="oauth-client-secret",
    )
    original = app_runtime.settings
    app_runtime.settings = changed
    yield changed
    app_runtime.settings = original


@pytest.fixture(autouse=True)
def fresh_slack_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a process remembers about Slack (recent posts per channel, e-mails Slack
    did not know) starts empty in each test, as in a new process."""
    monkeypatch.setattr(bursts, "recent", bursts._Recent())
    monkeypatch.setattr(people, "_misses", {})


@pytest.fixture
async def slack(
    slack_settings: Settings, app_runtime: runtime.Runtime, fake_slack: FakeSlack
) -> AsyncIterator[SlackKit]:
    kit: TenantKit = await make_tenant("Acme")
    fake_slack.add_workspace(TEAM, BOT_TOKEN, BOT_USER, name="Acme Corp")
    fake_slack.add_user(TEAM, ADMIN_SLACK, email=kit.admin.email, real_name=kit.admin.name)
    fake_slack.add_user(TEAM, VIEWER_SLACK, email=kit.viewer.email, real_name=kit.viewer.name)
    await configure_slack(
        tenant=kit.tenant,
        box=app_runtime.secret_box,
        config=SlackConfig(
            team_id=TEAM, bot_token=BOT_TOKEN, alert_channel=ALERT_CHANNEL, bot_user_id=BOT_USER
        ),
        actor=Actor.system("test"),
    )
    # Connecting asked Slack once (auth.test); each test reads only what it caused.
    fake_slack.calls.clear()
    await kit.tenant.refresh_from_db()
    app = create_app(slack_settings, connect_database=False, run_scheduler=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://opswatch.test") as http:
        yield SlackKit(http=http, fake=fake_slack, runtime=app_runtime, kit=kit)
