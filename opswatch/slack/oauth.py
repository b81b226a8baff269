"""Installing the Slack app into a workspace (OAuth v2), for a tenant.

An admin asks GraphQL for the install link (``slackInstallUrl``): it carries a
signed, short-lived ticket naming their tenant. Following it sets a state cookie
and redirects to Slack's consent page; Slack sends the browser back to the
callback with a code, which is exchanged for the bot token (``oauth.v2.access``)
and stored through the installation store below, in OpsWatch's own database,
encrypted. The state is signed and bound to the browser's cookie, so a callback
cannot be replayed into another tenant or forged from another browser.
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

from slack_sdk.oauth import AuthorizeUrlGenerator
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation

from opswatch import runtime
from opswatch.audit.actor import Actor
from opswatch.crypto import SecretBox
from opswatch.errors import InvalidInput
from opswatch.models import Tenant
from opswatch.slack.workspace import (
    SlackConfig,
    alert_channel,
    bot_token,
    bot_user_id,
    configure_slack,
    new_client,
)

BOT_SCOPES = (
    # The spec's scopes (1.1)...
    "chat:write",
    "chat:write.customize",
    "commands",
    "im:write",
    "users:read",
    "users:read.email",
    # ...and the two without which Slack does not send the spec's events
    # (app_mention needs app_mentions:read, message.im needs im:history).
    "app_mentions:read",
    "im:history",
)
TICKET_SECONDS = 15 * 60
STATE_SECONDS = 10 * 60
STATE_COOKIE = "opswatch_slack_state"
INSTALL_PATH = "/api/v1/slack/oauth/install"
CALLBACK_PATH = "/api/v1/slack/oauth/callback"


def _signed(box: SecretBox, *parts: str) -> str:
    message = ".".join(parts)
    return f"{message}.{box.sign(message)}"


def _opened(box: SecretBox, token: str, size: int, field: str) -> list[str]:
    """The parts of a signed token that has not expired (its second part is the expiry)."""
    parts = token.split(".")
    if len(parts) != size + 1 or not box.signature_matches(".".join(parts[:-1]), parts[-1]):
        raise InvalidInput(f"{field} is not valid", field=field)
    if not parts[1].isdigit() or int(parts[1]) < time.time():
        raise InvalidInput(f"{field} has expired: start the installation again", field=field)
    return parts[:-1]


def install_url(tenant: Tenant) -> str:
    current = runtime.current()
    expires = str(int(time.time()) + TICKET_SECONDS)
    ticket = _signed(current.secret_box, str(tenant.id), expires)
    return f"{current.settings.public_url}{INSTALL_PATH}?ticket={ticket}"


@dataclass(frozen=True)
class Redirect:
    url: str  # Slack's consent page
    nonce: str  # for the state cookie


def begin(ticket: str) -> Redirect:
    current = runtime.current()
    settings = current.settings
    if not settings.slack_client_id or not settings.slack_client_secret:
        raise InvalidInput(
            "Slack OAuth is not configured: set OPSWATCH_SLACK_CLIENT_ID and "
            "OPSWATCH_SLACK_CLIENT_SECRET",
            field="ticket",
        )
    tenant_id, _ = _opened(current.secret_box, ticket, 2, "ticket")
    nonce = secrets.token_urlsafe(18)
    expires = str(int(time.time()) + STATE_SECONDS)
    state = _signed(current.secret_box, tenant_id, expires, nonce)
    generator = AuthorizeUrlGenerator(
        client_id=settings.slack_client_id,
        redirect_uri=settings.public_url + CALLBACK_PATH,
        scopes=list(BOT_SCOPES),
    )
    return Redirect(generator.generate(state), nonce)


async def complete(*, code: str, state: str, cookie_nonce: str | None) -> Tenant:
    """Exchange the code and store the installation; InvalidInput when anything is off."""
    current = runtime.current()
    settings = current.settings
    tenant_id, _, nonce = _opened(current.secret_box, state, 3, "state")
    if not cookie_nonce or not secrets.compare_digest(nonce, cookie_nonce):
        raise InvalidInput(
            "state does not belong to this browser: start the installation again", field="state"
        )
    tenant = await Tenant.get_or_none(id=uuid.UUID(tenant_id))
    if tenant is None:
        raise InvalidInput("the tenant no longer exists", field="state")
    answer = await new_client().oauth_v2_access(
        client_id=settings.slack_client_id or "",
        client_secret=settings.slack_client_secret or "",
        code=code,
        redirect_uri=settings.public_url + CALLBACK_PATH,
    )
    installation = _installation(answer.data if isinstance(answer.data, dict) else {})
    await TenantInstallationStore(tenant).async_save(installation)
    await tenant.refresh_from_db()
    return tenant


def _installation(data: dict[str, Any]) -> Installation:
    team = data.get("team") or {}
    return Installation(
        app_id=data.get("app_id"),
        team_id=team.get("id"),
        team_name=team.get("name"),
        bot_token=data.get("access_token"),
        bot_id=data.get("bot_id"),
        bot_user_id=data.get("bot_user_id"),
        bot_scopes=data.get("scope") or "",
        user_id=str((data.get("authed_user") or {}).get("id") or ""),
        is_enterprise_install=bool(data.get("is_enterprise_install")),
        token_type=data.get("token_type"),
    )


class TenantInstallationStore(AsyncInstallationStore):
    """slack_sdk's installation store, kept on the tenant row (bot token encrypted).

    Saving needs the tenant the installation is for (the OAuth state names it);
    finding works by team id, as Slack's requests name their workspace.
    """

    def __init__(self, tenant: Tenant | None = None) -> None:
        self.tenant = tenant

    async def async_save(self, installation: Installation) -> None:
        if self.tenant is None:
            raise ValueError("an installation is saved for a tenant")
        if installation.is_enterprise_install or not installation.team_id:
            raise InvalidInput(
                "install OpsWatch into a workspace, not an organisation", field="team"
            )
        if not installation.bot_token:
            raise InvalidInput("Slack granted no bot token", field="code")
        await configure_slack(
            tenant=self.tenant,
            box=runtime.current().secret_box,
            config=SlackConfig(
                team_id=installation.team_id,
                bot_token=installation.bot_token,
                alert_channel=alert_channel(self.tenant),
                team_name=installation.team_name,
                bot_user_id=installation.bot_user_id,
                installed_by=installation.user_id or None,
            ),
            actor=Actor.system("slack"),
        )

    async def async_save_bot(self, bot: Bot) -> None:
        raise NotImplementedError("bots are saved with their installation")

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        tenant = await Tenant.get_or_none(slack_team_id=team_id) if team_id else None
        token = bot_token(tenant, runtime.current().secret_box) if tenant else None
        if tenant is None or token is None:
            return None
        slack = tenant.settings.get("slack") or {}
        return Bot(
            team_id=team_id,
            team_name=slack.get("team_name"),
            bot_token=token,
            bot_id=slack.get("bot_id") or "",
            bot_user_id=bot_user_id(tenant) or "",
            installed_at=tenant.updated_at.timestamp(),
        )

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        bot = await self.async_find_bot(enterprise_id=enterprise_id, team_id=team_id)
        if bot is None:
            return None
        tenant = await Tenant.get(slack_team_id=team_id)
        slack = tenant.settings.get("slack") or {}
        return Installation(
            team_id=bot.team_id,
            team_name=bot.team_name,
            bot_token=bot.bot_token,
            bot_id=bot.bot_id,
            bot_user_id=bot.bot_user_id,
            user_id=str(slack.get("installed_by") or ""),
        )
