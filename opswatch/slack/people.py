"""Who is who across Slack and OpsWatch, matched by e-mail address.

An OpsWatch user's Slack id is looked up once (``users.lookupByEmail``) and kept
on the user; a Slack user who clicks a button is found by their kept id, else by
the e-mail Slack reports for them (``users.info``), which is then kept too.
"""

from __future__ import annotations

import logging
import time

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from opswatch.models import Tenant, User

log = logging.getLogger(__name__)

# Someone Slack does not know by their e-mail is not asked about again for a while:
# every alert message would otherwise cost one lookup (Slack allows ~50 a minute).
MISS_TTL_SECONDS = 600.0
_misses: dict[tuple[str, str], float] = {}


async def slack_id_of(user: User, client: AsyncWebClient) -> str | None:
    if user.slack_user_id:
        return user.slack_user_id
    key = (str(user.tenant_id), user.email.lower())  # type: ignore[attr-defined]
    missed = _misses.get(key)
    if missed is not None and time.monotonic() - missed < MISS_TTL_SECONDS:
        return None
    try:
        answer = await client.users_lookupByEmail(email=user.email)
    except SlackApiError as error:
        if error.response.get("error") != "users_not_found":
            log.warning("Slack lookup of %s failed: %s", user.email, error.response.get("error"))
        _misses[key] = time.monotonic()
        return None
    slack_id = str(answer["user"]["id"])
    await User.filter(id=user.id).update(slack_user_id=slack_id)
    user.slack_user_id = slack_id
    return slack_id


async def user_of(tenant: Tenant, slack_user_id: str, client: AsyncWebClient | None) -> User | None:
    """The active OpsWatch user behind a Slack user of the tenant's workspace, or None."""
    user = await User.get_or_none(tenant=tenant, slack_user_id=slack_user_id, active=True)
    if user is not None or client is None:
        return user
    try:
        answer = await client.users_info(user=slack_user_id)
    except SlackApiError as error:
        log.warning("Slack users.info %s failed: %s", slack_user_id, error.response.get("error"))
        return None
    email = ((answer["user"].get("profile") or {}).get("email") or "").strip()
    if not email:
        return None
    user = await User.get_or_none(tenant=tenant, email__iexact=email, active=True)
    if user is not None:
        await User.filter(id=user.id).update(slack_user_id=slack_user_id)
        user.slack_user_id = slack_user_id
    return user
