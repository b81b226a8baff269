"""A tenant's Slack workspace: which team, its alert channel, its bot token (encrypted),
and the Web API client that acts as that bot.

One workspace belongs to one tenant (``tenant.slack_team_id`` is unique), so an
inbound request names its tenant by its ``team_id``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from opswatch import runtime
from opswatch.audit.actor import Actor
from opswatch.audit.log import record
from opswatch.crypto import SecretBox
from opswatch.errors import Conflict, InvalidInput
from opswatch.metrics.slack import CountedWebClient
from opswatch.models import Tenant
from opswatch.tenants.tenants import read_secrets, sealed_secrets

BOT_TOKEN_KEY = "slack_bot_token"  # noqa: S105 (the name of the secret, not one)
API_TIMEOUT_SECONDS = 10
# Slack answers 429 with Retry-After; the SDK waits that long and tries again.
RATE_LIMIT_RETRIES = 3

_TEAM = re.compile(r"^[TE][A-Z0-9]{2,31}$")
_CHANNEL = re.compile(r"^[CGD][A-Z0-9]{2,31}$")
_USER = re.compile(r"^[UWB][A-Z0-9]{2,31}$")
# What auth.test answers for a token Slack will not act on.
REFUSED_TOKEN_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "not_allowed_token_type",
    }
)


@dataclass(frozen=True)
class SlackConfig:
    team_id: str
    bot_token: str  # clear text, only on the way in
    alert_channel: str | None
    team_name: str | None = None
    bot_user_id: str | None = None
    installed_by: str | None = None  # the Slack user who installed the app (OAuth)


def check_channel(field: str, value: str | None) -> str | None:
    """Channel ids, not names: ``chat.update`` needs the id, and names change."""
    if value is None or not value.strip():
        return None
    channel = value.strip()
    if not _CHANNEL.match(channel):
        raise InvalidInput(
            f"{field} must be a Slack channel id such as C0123456789 (not a #name)", field=field
        )
    return channel


def check_user(field: str, value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    user = value.strip()
    if not _USER.match(user):
        raise InvalidInput(f"{field} must be a Slack user id such as U0123456789", field=field)
    return user


async def configure_slack(
    *, tenant: Tenant, box: SecretBox, config: SlackConfig, actor: Actor
) -> Tenant:
    team_id = config.team_id.strip()
    if not _TEAM.match(team_id):
        raise InvalidInput("teamId must be a Slack team id such as T0123456789", field="teamId")
    token = config.bot_token.strip()
    if not token.startswith("xoxb-") or len(token) > 255:
        raise InvalidInput("botToken must be a bot token (xoxb-...)", field="botToken")
    channel = check_channel("alertChannel", config.alert_channel)
    given_bot_user = check_user("botUserId", config.bot_user_id)
    bot_user = await _verified_bot_user(team_id, token, given_bot_user)
    slack = {
        "team_id": team_id,
        "team_name": config.team_name,
        "alert_channel": channel,
        "bot_user_id": bot_user,
        "installed_by": config.installed_by,
    }
    try:
        async with in_transaction() as connection:
            await (
                Tenant.filter(id=tenant.id)
                .using_db(connection)
                .update(
                    settings={**tenant.settings, "slack": slack},
                    slack_team_id=team_id,
                    secrets_encrypted=sealed_secrets(tenant, box, {BOT_TOKEN_KEY: token}),
                )
            )
            await record(
                tenant_id=tenant.id,
                actor=actor,
                action="tenant.slack_configured",
                target_type="tenant",
                target_id=tenant.id,
                data={"team_id": team_id, "alert_channel": channel, "keys": [BOT_TOKEN_KEY]},
                connection=connection,
            )
    except IntegrityError:
        raise Conflict(
            "this Slack workspace is already connected to another tenant", field="teamId"
        ) from None
    await tenant.refresh_from_db()
    return tenant


async def _verified_bot_user(team_id: str, token: str, given: str | None) -> str | None:
    """Asks Slack (``auth.test``) whether the token works and for which workspace, before
    anything is stored; returns the bot's user id (the given one, or Slack's)."""
    answer = await _auth_test(token)
    if isinstance(answer, InvalidInput):
        # Raised here, outside the except clause that built it: an error raised while
        # a network error is being handled carries it as __context__, and GraphQL
        # would then report a database outage instead of this message.
        raise answer
    token_team = answer.get("team_id")
    if token_team != team_id:
        raise InvalidInput(
            f"teamId {team_id} is not the bot token's workspace: Slack says the token "
            f"belongs to {token_team} ({answer.get('team')})",
            field="teamId",
        )
    token_user = answer.get("user_id")
    if given is not None and token_user and given != token_user:
        raise InvalidInput(
            f"botUserId {given} is not this token's bot: Slack says it is {token_user}",
            field="botUserId",
        )
    return given or (str(token_user) if token_user else None)


async def _auth_test(token: str) -> dict[str, Any] | InvalidInput:
    """What ``auth.test`` answered, or the refusal to raise when it did not say yes."""
    try:
        response = await new_client(token).auth_test()
    except SlackApiError as error:
        code = str(error.response.get("error") or "unknown_error")
        if code in REFUSED_TOKEN_ERRORS:
            return InvalidInput(
                f"botToken was refused by Slack ({code}): copy the Bot User OAuth Token again",
                field="botToken",
            )
        return InvalidInput(
            f"Slack could not verify the bot token ({code}); nothing was stored, try again"
        )
    except (SlackClientError, aiohttp.ClientError, TimeoutError, OSError) as error:
        return InvalidInput(
            f"Slack could not be reached to verify the bot token "
            f"({str(error) or type(error).__name__}); nothing was stored, try again"
        )
    return response.data if isinstance(response.data, dict) else {}


async def tenant_for_team(team_id: str | None) -> Tenant | None:
    if not team_id:
        return None
    return await Tenant.get_or_none(slack_team_id=team_id)


def alert_channel(tenant: Tenant) -> str | None:
    channel = (tenant.settings.get("slack") or {}).get("alert_channel")
    return str(channel) if channel else None


def bot_user_id(tenant: Tenant) -> str | None:
    user = (tenant.settings.get("slack") or {}).get("bot_user_id")
    return str(user) if user else None


def bot_token(tenant: Tenant, box: SecretBox) -> str | None:
    if not tenant.slack_team_id:
        return None
    return read_secrets(tenant, box).get(BOT_TOKEN_KEY)


def client_for(tenant: Tenant) -> AsyncWebClient | None:
    """The Web API client acting as the tenant's bot; None when Slack is not connected."""
    current = runtime.current()
    token = bot_token(tenant, current.secret_box)
    if token is None:
        return None
    return new_client(token)


def new_client(token: str | None = None) -> AsyncWebClient:
    base_url = runtime.current().settings.slack_api_url
    return CountedWebClient(  # counts every call in /metrics (opswatch.metrics.slack)
        token=token,
        base_url=_with_slash(base_url) if base_url else AsyncWebClient.BASE_URL,
        timeout=API_TIMEOUT_SECONDS,
        retry_handlers=[
            AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
            AsyncConnectionErrorRetryHandler(max_retry_count=1),
        ],
    )


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"
