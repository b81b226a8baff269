"""Connecting a tenant to a workspace by hand (GraphQL ``configureSlack`` and
``opswatch tenant configure-slack``): checked ids, the token stored encrypted,
one tenant per workspace; and Slack requests from a workspace nobody connected."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from opswatch import runtime
from opswatch.config import Settings
from opswatch.models import AuditLog, SlackEventReceipt, Tenant
from opswatch.slack.workspace import bot_token
from tests.cli.support import opswatch
from tests.factories import TenantKit, graphql
from tests.fakes.slack import FakeSlack
from tests.slack.support import SlackKit

CONFIGURE = """
mutation Configure($input: SlackInput!) {
  configureSlack(input: $input) { teamId alertChannel }
}
"""
WORKSPACE = "query { slackWorkspace { teamId teamName alertChannel } }"
GOOD = {"teamId": "T0GLOBEX", "botToken": "xoxb-globex-token", "alertChannel": "C0G"}


@pytest.fixture(autouse=True)
def globex_workspace(slack_settings: Settings, fake_slack: FakeSlack) -> FakeSlack:
    """The workspace GOOD names, in the fake Slack OpsWatch verifies bot tokens with."""
    fake_slack.add_workspace("T0GLOBEX", "xoxb-globex-token", "UGLOBEXBOT", name="Globex")
    return fake_slack


async def _configure(client: httpx.AsyncClient, token: str, **changes: Any) -> dict[str, Any]:
    return await graphql(client, token, CONFIGURE, input={**GOOD, **changes})


async def test_an_admin_connects_the_workspace_and_reads_it_back(
    client: httpx.AsyncClient, globex: TenantKit, app_runtime: runtime.Runtime
) -> None:
    before = await graphql(client, globex.admin_token, WORKSPACE)
    assert before == {"data": {"slackWorkspace": None}}

    body = await _configure(client, globex.admin_token)
    assert body == {"data": {"configureSlack": {"teamId": "T0GLOBEX", "alertChannel": "C0G"}}}

    after = await graphql(client, globex.admin_token, WORKSPACE)
    assert after["data"]["slackWorkspace"] == {
        "teamId": "T0GLOBEX",
        "teamName": None,
        "alertChannel": "C0G",
    }
    # Viewers may see which workspace it is; the token is never readable.
    seen = await graphql(client, globex.viewer_token, WORKSPACE)
    assert seen["data"]["slackWorkspace"]["teamId"] == "T0GLOBEX"
    tenant = await Tenant.get(id=globex.tenant.id)
    assert tenant.slack_team_id == "T0GLOBEX"
    assert "xoxb-globex-token" not in (tenant.secrets_encrypted or "")
    assert "xoxb-globex-token" not in json.dumps(tenant.settings)
    assert bot_token(tenant, app_runtime.secret_box) == "xoxb-globex-token"
    [audit] = await AuditLog.filter(tenant_id=tenant.id, action="tenant.slack_configured")
    assert audit.source == "graphql"
    assert audit.actor_id == str(globex.admin.id)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"teamId": "nope"}, "teamId", id="team-id"),
        pytest.param({"alertChannel": "#alerts"}, "alertChannel", id="channel-name"),
        pytest.param({"botToken": "xoxp-a-user-token"}, "botToken", id="user-token"),
        pytest.param({"botToken": "xoxb-" + "x" * 300}, "botToken", id="long-token"),
    ],
)
async def test_bad_input_is_refused_naming_the_field_and_changes_nothing(
    client: httpx.AsyncClient, globex: TenantKit, changes: dict[str, Any], field: str
) -> None:
    body = await _configure(client, globex.admin_token, **changes)
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"] == {"code": "INVALID_INPUT", "field": field}
    assert field in error["message"]
    tenant = await Tenant.get(id=globex.tenant.id)
    assert tenant.slack_team_id is None
    assert "slack" not in tenant.settings
    assert not tenant.secrets_encrypted
    assert not await AuditLog.exists(tenant_id=tenant.id, action="tenant.slack_configured")


async def test_viewers_cannot_connect_a_workspace(
    client: httpx.AsyncClient, globex: TenantKit
) -> None:
    body = await _configure(client, globex.viewer_token)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await Tenant.get(id=globex.tenant.id)).slack_team_id is None


async def test_one_workspace_belongs_to_one_tenant(
    client: httpx.AsyncClient,
    acme: TenantKit,
    globex: TenantKit,
    app_runtime: runtime.Runtime,
    globex_workspace: FakeSlack,
) -> None:
    globex_workspace.add_workspace("T0GLOBEX", "xoxb-acme", "UGLOBEXBOT")
    first = await _configure(client, acme.admin_token, botToken="xoxb-acme")
    assert "errors" not in first, first

    globex_workspace.add_workspace("T0GLOBEX", "xoxb-globex-token", "UGLOBEXBOT")  # reinstalled
    second = await _configure(client, globex.admin_token)
    assert second["data"] is None
    [error] = second["errors"]
    assert error["extensions"] == {"code": "CONFLICT", "field": "teamId"}
    globex_tenant = await Tenant.get(id=globex.tenant.id)
    assert globex_tenant.slack_team_id is None
    assert not globex_tenant.secrets_encrypted
    assert not await AuditLog.exists(tenant_id=globex_tenant.id, action="tenant.slack_configured")
    acme_tenant = await Tenant.get(id=acme.tenant.id)
    assert acme_tenant.slack_team_id == "T0GLOBEX"
    assert bot_token(acme_tenant, app_runtime.secret_box) == "xoxb-acme"

    # Connecting the same workspace again, to the tenant that has it, updates it.
    globex_workspace.add_workspace("T0GLOBEX", "xoxb-acme-2", "UGLOBEXBOT")
    again = await _configure(client, acme.admin_token, botToken="xoxb-acme-2", alertChannel=None)
    assert again == {"data": {"configureSlack": {"teamId": "T0GLOBEX", "alertChannel": None}}}
    await acme_tenant.refresh_from_db()
    assert bot_token(acme_tenant, app_runtime.secret_box) == "xoxb-acme-2"


# The CLI


async def test_the_cli_connects_a_workspace(
    test_env: dict[str, str],
    globex: TenantKit,
    app_runtime: runtime.Runtime,
    globex_workspace: FakeSlack,
) -> None:
    globex_workspace.add_workspace("T0X", "xoxb-x", "UXBOT")
    env = {**test_env, "OPSWATCH_SLACK_API_URL": f"{globex_workspace.url}/api/"}
    result = await asyncio.to_thread(
        opswatch,
        env,
        "tenant", "configure-slack", globex.tenant.slug, "--team-id", "T0X",
        "--bot-token", "xoxb-x", "--alert-channel", "C0X", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "slug": globex.tenant.slug,
        "team_id": "T0X",
        "alert_channel": "C0X",
        "bot_user_id": "UXBOT",
    }
    tenant = await Tenant.get(id=globex.tenant.id)
    assert tenant.slack_team_id == "T0X"
    assert tenant.settings["slack"]["alert_channel"] == "C0X"
    assert "xoxb-x" not in (tenant.secrets_encrypted or "")
    assert bot_token(tenant, app_runtime.secret_box) == "xoxb-x"
    [audit] = await AuditLog.filter(tenant_id=tenant.id, action="tenant.slack_configured")
    assert audit.source == "cli"


async def test_the_cli_refuses_a_bad_team_id_in_one_line(
    test_env: dict[str, str], globex: TenantKit
) -> None:
    result = opswatch(
        test_env,
        "tenant", "configure-slack", globex.tenant.slug, "--team-id", "nope",
        "--bot-token", "xoxb-x",
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("opswatch: error: --team-id: ")
    assert (await Tenant.get(id=globex.tenant.id)).slack_team_id is None


# Requests from a workspace no tenant connected


async def test_a_command_from_an_unknown_workspace_is_told_so(slack: SlackKit) -> None:
    response = await slack.command("oncall", team="T0NOBODY")
    assert response.status_code == 200
    answer = response.json()
    assert answer["response_type"] == "ephemeral"
    assert "not connected" in answer["text"]
    await slack.drain()
    assert slack.fake.responses[slack.last_response_url] == []  # nothing deferred
    assert slack.fake.calls == []  # nobody in Slack was asked anything
    assert await SlackEventReceipt.all().count() == 0
