"""Resolvers of the Slack app's configuration (admins only)."""

from __future__ import annotations

from opswatch import models, runtime
from opswatch.slack import oauth
from opswatch.slack.workspace import SlackConfig, configure_slack
from resolvers.context import Info
from schema.slack import SlackInput, SlackWorkspace


async def slack_workspace(info: Info) -> SlackWorkspace | None:
    principal = info.context.viewer()
    return SlackWorkspace.of(principal.tenant)


async def slack_install_url(info: Info) -> str | None:
    """Where an admin starts the "Add to Slack" installation for their tenant (15 minutes);
    null when this server has no Slack app credentials, as the link would lead nowhere."""
    principal = info.context.viewer(models.Role.ADMIN)
    settings = runtime.current().settings
    if not settings.slack_client_id or not settings.slack_client_secret:
        return None
    return oauth.install_url(principal.tenant)


async def configure_slack_resolver(info: Info, input: SlackInput) -> SlackWorkspace:
    principal = info.context.viewer(models.Role.ADMIN)
    tenant = await configure_slack(
        tenant=principal.tenant,
        box=runtime.current().secret_box,
        config=SlackConfig(
            team_id=input.team_id,
            bot_token=input.bot_token,
            alert_channel=input.alert_channel,
            bot_user_id=input.bot_user_id,
        ),
        actor=principal.actor("graphql"),
    )
    workspace = SlackWorkspace.of(tenant)
    assert workspace is not None
    return workspace
