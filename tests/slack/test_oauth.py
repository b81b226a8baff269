"""Installing the app with "Add to Slack" (OAuth v2, spec 1.1): an admin's signed
link, Slack's consent page with the spec's scopes, and the callback that exchanges
the code and stores the bot token encrypted, for that tenant and this browser only."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation

from opswatch import runtime
from opswatch.config import Settings
from opswatch.models import AuditLog, Tenant
from opswatch.slack.oauth import TenantInstallationStore
from opswatch.slack.workspace import bot_token
from tests.factories import TenantKit, graphql, make_tenant
from tests.fakes.slack import FakeSlack
from tests.slack.support import BOT_TOKEN, BOT_USER, TEAM, SlackKit

INSTALL = "/api/v1/slack/oauth/install"
CALLBACK = "/api/v1/slack/oauth/callback"
COOKIE = "opswatch_slack_state"
SPEC_SCOPES = [
    "chat:write",
    "chat:write.customize",
    "commands",
    "im:write",
    "users:read",
    "users:read.email",
    # Not in the spec's list, but its events need them.
    "app_mentions:read",
    "im:history",
]
GLOBEX_TEAM = "T0GLOBEX"
GLOBEX_TOKEN = "xoxb-globex"


async def _install_link(client: httpx.AsyncClient, token: str) -> str:
    body = await graphql(client, token, "query { slackInstallUrl }")
    assert "errors" not in body, body
    link: str = body["data"]["slackInstallUrl"]
    return link


def _relative(link: str) -> str:
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


async def _to_slack(client: httpx.AsyncClient, kit: TenantKit) -> str:
    """Follow the admin's link as their browser would; the state Slack is given."""
    response = await client.get(_relative(await _install_link(client, kit.admin_token)))
    assert response.status_code == 302, response.text
    query = parse_qs(urlsplit(response.headers["location"]).query)
    [state] = query["state"]
    return state


def _grant(
    fake: FakeSlack, settings: Settings, *, code: str = "code-1", team: str = GLOBEX_TEAM
) -> None:
    fake.set_oauth_app("1234.5678", "oauth-client-secret")
    fake.add_oauth_code(
        code,
        team_id=team,
        team_name="Globex",
        bot_token=GLOBEX_TOKEN,
        bot_user_id="UGLOBEXBOT",
        redirect_uri=settings.public_url + CALLBACK,
    )


async def _untouched(tenant: Tenant) -> None:
    await tenant.refresh_from_db()
    assert tenant.slack_team_id is None
    assert "slack" not in tenant.settings
    assert not tenant.secrets_encrypted
    assert not await AuditLog.exists(tenant_id=tenant.id, action="tenant.slack_configured")


# The link


async def test_the_install_link_is_for_admins(
    client: httpx.AsyncClient, globex: TenantKit, slack_settings: Settings
) -> None:
    link = await _install_link(client, globex.admin_token)
    assert link.startswith(f"{slack_settings.public_url}{INSTALL}?ticket=")
    assert parse_qs(urlsplit(link).query)["ticket"] != [""]

    body = await graphql(client, globex.viewer_token, "query { slackInstallUrl }")
    assert body["data"] == {"slackInstallUrl": None}  # nullable: no link, and why
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_the_link_leads_to_slack_with_the_spec_scopes_and_a_state_cookie(
    client: httpx.AsyncClient, globex: TenantKit, slack_settings: Settings
) -> None:
    link = await _install_link(client, globex.admin_token)
    response = await client.get(_relative(link))

    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    assert (location.scheme, location.netloc, location.path) == (
        "https",
        "slack.com",
        "/oauth/v2/authorize",
    )
    query = parse_qs(location.query)
    assert query["client_id"] == ["1234.5678"]
    assert query["scope"][0].split(",") == SPEC_SCOPES
    assert query["redirect_uri"] == [slack_settings.public_url + CALLBACK]
    assert query["state"][0]
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie
    assert "Path=/api/v1/slack/oauth" in cookie
    assert "samesite=lax" in cookie.lower()
    assert client.cookies.get(COOKIE)
    await _untouched(globex.tenant)  # nothing is stored before the callback


async def test_the_callback_installs_the_workspace_for_the_tenant(
    client: httpx.AsyncClient,
    globex: TenantKit,
    slack_settings: Settings,
    fake_slack: FakeSlack,
    app_runtime: runtime.Runtime,
) -> None:
    state = await _to_slack(client, globex)
    _grant(fake_slack, slack_settings)

    response = await client.get(CALLBACK, params={"code": "code-1", "state": state})

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "OpsWatch is installed" in response.text
    assert "Globex" in response.text
    assert client.cookies.get(COOKIE) is None  # the state is used up
    tenant = await Tenant.get(id=globex.tenant.id)
    assert tenant.slack_team_id == GLOBEX_TEAM
    slack = tenant.settings["slack"]
    assert slack["bot_user_id"] == "UGLOBEXBOT"
    assert slack["team_name"] == "Globex"
    assert slack["installed_by"] == "UINSTALLER"
    assert tenant.secrets_encrypted
    assert GLOBEX_TOKEN not in tenant.secrets_encrypted
    assert bot_token(tenant, app_runtime.secret_box) == GLOBEX_TOKEN
    [audit] = await AuditLog.filter(tenant_id=tenant.id, action="tenant.slack_configured")
    assert audit.data["team_id"] == GLOBEX_TEAM
    assert GLOBEX_TOKEN not in str(audit.data)
    # The exchange named the same redirect as the consent page, with the app's credentials.
    [exchange] = fake_slack.calls_to("oauth.v2.access")
    assert exchange["code"] == "code-1"


async def test_a_code_slack_refuses_changes_nothing(
    client: httpx.AsyncClient, globex: TenantKit, slack_settings: Settings, fake_slack: FakeSlack
) -> None:
    state = await _to_slack(client, globex)
    _grant(fake_slack, slack_settings)
    response = await client.get(CALLBACK, params={"code": "code-never-issued", "state": state})
    assert response.status_code == 400
    assert "invalid_code" in response.text
    await _untouched(globex.tenant)


# Callbacks that must not install


def _expired(app_runtime: runtime.Runtime, *parts: str) -> str:
    """A token signed like OpsWatch's own, but expired a minute ago."""
    message = ".".join([parts[0], str(int(time.time()) - 60), *parts[1:]])
    return f"{message}.{app_runtime.secret_box.sign(message)}"


async def test_a_callback_without_the_browsers_cookie_is_refused(
    client: httpx.AsyncClient, globex: TenantKit, slack_settings: Settings, fake_slack: FakeSlack
) -> None:
    state = await _to_slack(client, globex)
    _grant(fake_slack, slack_settings)
    client.cookies.clear()  # another browser, or a link someone was sent
    response = await client.get(CALLBACK, params={"code": "code-1", "state": state})
    assert response.status_code == 400
    assert "browser" in response.text
    assert fake_slack.calls_to("oauth.v2.access") == []  # the code was not spent
    await _untouched(globex.tenant)


async def test_a_state_changed_to_name_another_tenant_is_refused(
    client: httpx.AsyncClient, globex: TenantKit, slack_settings: Settings, fake_slack: FakeSlack
) -> None:
    other = await make_tenant("Initech")
    state = await _to_slack(client, globex)
    _grant(fake_slack, slack_settings)
    _, rest = state.split(".", 1)
    tampered = f"{other.tenant.id}.{rest}"
    response = await client.get(CALLBACK, params={"code": "code-1", "state": tampered})
    assert response.status_code == 400
    assert "state is not valid" in response.text
    assert fake_slack.calls_to("oauth.v2.access") == []
    await _untouched(globex.tenant)
    await _untouched(other.tenant)


async def test_an_expired_state_is_refused(
    client: httpx.AsyncClient,
    globex: TenantKit,
    slack_settings: Settings,
    fake_slack: FakeSlack,
    app_runtime: runtime.Runtime,
) -> None:
    state = await _to_slack(client, globex)
    _grant(fake_slack, slack_settings)
    tenant_id, _, nonce, _ = state.split(".")
    stale = _expired(app_runtime, tenant_id, nonce)
    response = await client.get(CALLBACK, params={"code": "code-1", "state": stale})
    assert response.status_code == 400
    assert "expired" in response.text
    assert fake_slack.calls_to("oauth.v2.access") == []
    await _untouched(globex.tenant)


async def test_an_expired_ticket_does_not_lead_to_slack(
    client: httpx.AsyncClient,
    globex: TenantKit,
    slack_settings: Settings,
    app_runtime: runtime.Runtime,
) -> None:
    ticket = _expired(app_runtime, str(globex.tenant.id))
    response = await client.get(INSTALL, params={"ticket": ticket})
    assert response.status_code == 400
    assert "expired" in response.text
    assert "location" not in response.headers
    assert client.cookies.get(COOKIE) is None
    forged = await client.get(INSTALL, params={"ticket": f"{globex.tenant.id}.9999999999.bad"})
    assert forged.status_code == 400
    assert "ticket is not valid" in forged.text
    await _untouched(globex.tenant)


async def test_declining_on_slacks_page_changes_nothing(
    client: httpx.AsyncClient, globex: TenantKit, slack_settings: Settings, fake_slack: FakeSlack
) -> None:
    state = await _to_slack(client, globex)
    response = await client.get(CALLBACK, params={"error": "access_denied", "state": state})
    assert response.status_code == 400
    assert "access_denied" in response.text
    assert "Nothing changed" in response.text
    assert fake_slack.calls_to("oauth.v2.access") == []
    await _untouched(globex.tenant)


async def test_without_oauth_settings_there_is_no_link_and_the_page_explains_what_to_set(
    client: httpx.AsyncClient, globex: TenantKit
) -> None:
    body = await graphql(client, globex.admin_token, "query { slackInstallUrl }")
    assert body == {"data": {"slackInstallUrl": None}}
    response = await client.get(INSTALL, params={"ticket": "an-old-link"})
    assert response.status_code == 400
    assert "OPSWATCH_SLACK_CLIENT_ID" in response.text
    await _untouched(globex.tenant)


async def test_a_workspace_another_tenant_has_is_a_conflict(
    slack: SlackKit,
    client: httpx.AsyncClient,
    globex: TenantKit,
    slack_settings: Settings,
    fake_slack: FakeSlack,
    app_runtime: runtime.Runtime,
) -> None:
    state = await _to_slack(client, globex)
    _grant(fake_slack, slack_settings, team=TEAM)  # Acme's workspace
    response = await client.get(CALLBACK, params={"code": "code-1", "state": state})
    assert response.status_code == 409
    assert "already connected to another tenant" in response.text
    await _untouched(globex.tenant)
    acme = await Tenant.get(id=slack.tenant.id)
    assert acme.slack_team_id == TEAM
    assert bot_token(acme, app_runtime.secret_box) == BOT_TOKEN


# The installation store slack_sdk reads


async def test_the_installation_store_finds_the_bot_by_team(slack: SlackKit) -> None:
    store = TenantInstallationStore()
    bot = await store.async_find_bot(enterprise_id=None, team_id=TEAM)
    assert isinstance(bot, Bot)
    assert (bot.team_id, bot.bot_token, bot.bot_user_id) == (TEAM, BOT_TOKEN, BOT_USER)
    assert await store.async_find_bot(enterprise_id=None, team_id="T0NOBODY") is None
    assert await store.async_find_bot(enterprise_id=None, team_id=None) is None
    installation = await store.async_find_installation(enterprise_id=None, team_id=TEAM)
    assert installation is not None
    assert installation.bot_token == BOT_TOKEN
    assert await store.async_find_installation(enterprise_id=None, team_id="T0NOBODY") is None


async def test_saving_needs_the_tenant_it_is_for() -> None:
    with pytest.raises(ValueError, match="for a tenant"):
        await TenantInstallationStore().async_save(
            Installation(user_id="U0", team_id=TEAM, bot_token=BOT_TOKEN)
        )
