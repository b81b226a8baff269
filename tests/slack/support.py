"""Talking to OpsWatch the way Slack does: signed requests (signatures made by the
SDK's own ``SignatureVerifier``), and reading what OpsWatch posted to the fake."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from opswatch.models import Tenant, User
from opswatch.queue.inprocess import InProcessQueue
from opswatch.runtime import Runtime
from tests.factories import TenantKit
from tests.fakes.slack import FakeSlack

SIGNING_SECRET = "slack-signing-secret-for-tests-0123456789"
TEAM = "T0ACME"
BOT_TOKEN = "xoxb-acme-bot-token"
BOT_USER = "UOPSBOT"
ALERT_CHANNEL = "C0ALERTS"
ADMIN_SLACK = "U0ADMIN"
VIEWER_SLACK = "U0VIEWER"
STRANGER_SLACK = "U0STRANGER"


def signed_headers(
    body: bytes, *, timestamp: int | None = None, secret: str = SIGNING_SECRET
) -> dict[str, str]:
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    assert signature is not None
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}


@dataclass
class SlackKit:
    """A tenant connected to the fake workspace, with its people known to Slack."""

    http: httpx.AsyncClient
    fake: FakeSlack
    runtime: Runtime
    kit: TenantKit

    @property
    def tenant(self) -> Tenant:
        return self.kit.tenant

    @property
    def admin(self) -> User:
        return self.kit.admin

    async def drain(self) -> None:
        queue = self.runtime.queue
        assert isinstance(queue, InProcessQueue)
        await queue.drain(delayed=False)

    async def command(
        self, text: str, *, user: str = ADMIN_SLACK, team: str = TEAM
    ) -> httpx.Response:
        """``/opswatch <text>``; the deferred answer arrives at ``response_url``."""
        self.last_response_url = self.fake.new_response_url()
        form = {
            "token": "legacy-verification-token",
            "team_id": team,
            "team_domain": "acme",
            "channel_id": ALERT_CHANNEL,
            "channel_name": "alerts",
            "user_id": user,
            "user_name": "someone",
            "command": "/opswatch",
            "text": text,
            "api_app_id": "A0OPSWATCH",
            "response_url": self.last_response_url,
            "trigger_id": self.fake.new_trigger_id(),
        }
        return await self.post_form("/api/v1/slack/commands", form)

    async def answer(self, text: str, *, user: str = ADMIN_SLACK) -> dict[str, Any]:
        """Run a command and return what OpsWatch answered (inline or at response_url)."""
        response = await self.command(text, user=user)
        assert response.status_code == 200, response.text
        await self.drain()
        if response.content:
            body: dict[str, Any] = response.json()
            return body
        posted = self.fake.responses[self.last_response_url]
        assert len(posted) == 1, posted
        return posted[0]

    async def click(
        self,
        action_id: str,
        value: str | None,
        *,
        user: str = ADMIN_SLACK,
        message_ts: str | None = None,
        channel: str = ALERT_CHANNEL,
        action_ts: str | None = None,
    ) -> httpx.Response:
        self.last_response_url = self.fake.new_response_url()
        self.last_trigger_id = self.fake.new_trigger_id()
        action: dict[str, Any] = {
            "action_id": action_id,
            "block_id": "b1",
            "type": "button",
            "action_ts": action_ts or f"{time.time():.6f}",
        }
        if value is not None:
            action["value"] = value
        payload = {
            "type": "block_actions",
            "team": {"id": TEAM, "domain": "acme"},
            "user": {"id": user, "team_id": TEAM},
            "api_app_id": "A0OPSWATCH",
            "trigger_id": self.last_trigger_id,
            "response_url": self.last_response_url,
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
            "channel": {"id": channel},
            "actions": [action],
        }
        return await self.post_form("/api/v1/slack/interactions", {"payload": json.dumps(payload)})

    async def submit(
        self, view: dict[str, Any], values: dict[str, Any], *, user: str = ADMIN_SLACK
    ) -> httpx.Response:
        payload = {
            "type": "view_submission",
            "team": {"id": TEAM},
            "user": {"id": user, "team_id": TEAM},
            "view": {**view, "id": "V0SUBMIT", "state": {"values": values}},
        }
        return await self.post_form("/api/v1/slack/interactions", {"payload": json.dumps(payload)})

    async def event(
        self, event: dict[str, Any], *, event_id: str, team: str = TEAM
    ) -> httpx.Response:
        envelope = {
            "token": "legacy",
            "team_id": team,
            "api_app_id": "A0OPSWATCH",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "event": event,
        }
        return await self.post_json("/api/v1/slack/events", envelope)

    async def post_form(self, path: str, form: dict[str, str], **sign: Any) -> httpx.Response:
        body = urlencode(form).encode()
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            **signed_headers(body, **sign),
        }
        return await self.http.post(path, content=body, headers=headers)

    async def post_json(self, path: str, data: dict[str, Any], **sign: Any) -> httpx.Response:
        body = json.dumps(data).encode()
        headers = {"Content-Type": "application/json", **signed_headers(body, **sign)}
        return await self.http.post(path, content=body, headers=headers)
