"""``configureSlack`` asks Slack (``auth.test``) about the bot token before storing it:
a token Slack refuses, or one for another workspace, is refused naming the field; an
unreachable Slack is said to be one; the bot's user id comes from Slack when not
given. And ``slackInstallUrl`` is null when this server has no Slack app to install."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import httpx
import pytest

from opswatch import runtime
from opswatch.config import Settings
from opswatch.models import AuditLog, Tenant
from opswatch.slack.workspace import bot_token
from tests.cli.support import opswatch
from tests.conftest import free_port
from tests.factories import TenantKit, graphql
from tests.fakes.slack import FakeSlack

CONFIGURE = """
mutation Configure($input: SlackInput!) {
  configureSlack(input: $input) { teamId alertChannel botUserId }
}
"""
TEAM, TOKEN, BOT = "T0GLOBEX", "xoxb-globex-bot-token", "UGLOBEXBOT"
OTHER_TEAM, OTHER_TOKEN = "T0INITECH", "xoxb-initech-bot-token"


@pytest.fixture(autouse=True)
def workspaces(slack_settings: Settings, fake_slack: FakeSlack) -> FakeSlack:
    """Globex's workspace and another company's, in the fake Slack OpsWatch asks."""
    fake_slack.add_workspace(TEAM, TOKEN, BOT, name="Globex")
    fake_slack.add_workspace(OTHER_TEAM, OTHER_TOKEN, "UINITECHBOT", name="Initech")
    return fake_slack


async def configure(client: httpx.AsyncClient, kit: TenantKit, **changes: Any) -> dict[str, Any]:
    given = {"teamId": TEAM, "botToken": TOKEN, "alertChannel": "C0ALERTS", **changes}
    return await graphql(client, kit.admin_token, CONFIGURE, input=given)


async def refusal(body: dict[str, Any], kit: TenantKit) -> dict[str, Any]:
    """The one error of a refused configureSlack, after checking nothing was stored."""
    assert body["data"] is None, body
    [error] = body["errors"]
    tenant = await Tenant.get(id=kit.tenant.id)
    assert tenant.slack_team_id is None
    assert "slack" not in tenant.settings
    assert not tenant.secrets_encrypted
    assert not await AuditLog.exists(action="tenant.slack_configured")
    return dict(error)


async def test_a_good_token_is_stored_with_the_bot_user_id_slack_gave(
    client: httpx.AsyncClient, globex: TenantKit, app_runtime: runtime.Runtime
) -> None:
    body = await configure(client, globex)
    assert body == {
        "data": {"configureSlack": {"teamId": TEAM, "alertChannel": "C0ALERTS", "botUserId": BOT}}
    }
    tenant = await Tenant.get(id=globex.tenant.id)
    assert tenant.settings["slack"]["bot_user_id"] == BOT
    assert bot_token(tenant, app_runtime.secret_box) == TOKEN


async def test_a_slack_bot_token_from_another_workspace_is_refused_naming_team_id(
    client: httpx.AsyncClient, globex: TenantKit
) -> None:
    error = await refusal(await configure(client, globex, botToken=OTHER_TOKEN), globex)
    assert error["extensions"] == {"code": "INVALID_INPUT", "field": "teamId"}
    assert error["message"] == (
        "teamId T0GLOBEX is not the bot token's workspace: "
        "Slack says the token belongs to T0INITECH (Initech)"
    )


@pytest.mark.parametrize(
    "slack_error", ["token_revoked", "account_inactive", "invalid_auth", "not_authed"]
)
async def test_a_token_slack_refuses_is_refused_naming_bot_token_with_slacks_error(
    client: httpx.AsyncClient, globex: TenantKit, workspaces: FakeSlack, slack_error: str
) -> None:
    workspaces.fail_next(slack_error)
    error = await refusal(await configure(client, globex), globex)
    assert error["extensions"] == {"code": "INVALID_INPUT", "field": "botToken"}
    assert error["message"].startswith(f"botToken was refused by Slack ({slack_error})")


async def test_a_token_slack_never_issued_is_refused_as_invalid_auth(
    client: httpx.AsyncClient, globex: TenantKit
) -> None:
    error = await refusal(await configure(client, globex, botToken="xoxb-made-up"), globex)
    assert error["extensions"]["field"] == "botToken"
    assert "(invalid_auth)" in error["message"]


async def test_a_bot_user_id_that_is_not_the_tokens_bot_is_refused(
    client: httpx.AsyncClient, globex: TenantKit
) -> None:
    error = await refusal(await configure(client, globex, botUserId="U0SOMEONE"), globex)
    assert error["extensions"] == {"code": "INVALID_INPUT", "field": "botUserId"}
    assert (
        error["message"]
        == "botUserId U0SOMEONE is not this token's bot: Slack says it is UGLOBEXBOT"
    )


async def test_an_unreachable_slack_is_said_to_be_unreachable_and_nothing_is_stored(
    client: httpx.AsyncClient, globex: TenantKit, app_runtime: runtime.Runtime
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}/api/"
    app_runtime.settings = dataclasses.replace(app_runtime.settings, slack_api_url=nobody)
    error = await refusal(await configure(client, globex), globex)
    assert error["extensions"] == {"code": "INVALID_INPUT"}  # a 4xx-shaped answer, no 5xx
    assert error["message"].startswith("Slack could not be reached to verify the bot token")


async def test_a_slack_outage_is_not_blamed_on_the_token(
    client: httpx.AsyncClient, globex: TenantKit, workspaces: FakeSlack
) -> None:
    workspaces.server_error_next(503)
    error = await refusal(await configure(client, globex), globex)
    assert "field" not in error["extensions"]
    assert error["message"].startswith("Slack could not verify the bot token")


# slackInstallUrl


async def test_slack_install_url_is_null_without_oauth(
    client: httpx.AsyncClient, globex: TenantKit, app_runtime: runtime.Runtime
) -> None:
    app_runtime.settings = dataclasses.replace(
        app_runtime.settings, slack_client_id=None, slack_client_secret=None
    )
    body = await graphql(client, globex.admin_token, "query { slackInstallUrl }")
    assert body == {"data": {"slackInstallUrl": None}}


# The CLI


async def test_the_cli_names_the_flag_when_slack_refuses_the_token(
    test_env: dict[str, str], globex: TenantKit, workspaces: FakeSlack
) -> None:
    env = {**test_env, "OPSWATCH_SLACK_API_URL": f"{workspaces.url}/api/"}
    result = await asyncio.to_thread(
        opswatch,
        env,
        "tenant", "configure-slack", globex.tenant.slug, "--team-id", TEAM,
        "--bot-token", OTHER_TOKEN,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip() == (
        "opswatch: error: --team-id: T0GLOBEX is not the bot token's workspace: "
        "Slack says the token belongs to T0INITECH (Initech)"
    )
    assert (await Tenant.get(id=globex.tenant.id)).slack_team_id is None
