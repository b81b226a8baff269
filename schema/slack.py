"""Types of the Slack app's configuration."""

from __future__ import annotations

import strawberry

from opswatch import models


@strawberry.type
class SlackWorkspace:
    """The workspace a tenant posts to. The bot token is stored encrypted, never shown."""

    team_id: str
    team_name: str | None
    alert_channel: str | None
    bot_user_id: str | None

    @classmethod
    def of(cls, tenant: models.Tenant) -> SlackWorkspace | None:
        slack = tenant.settings.get("slack") or {}
        if not tenant.slack_team_id:
            return None
        return cls(
            team_id=tenant.slack_team_id,
            team_name=slack.get("team_name"),
            alert_channel=slack.get("alert_channel"),
            bot_user_id=slack.get("bot_user_id"),
        )


@strawberry.input
class SlackInput:
    team_id: str = strawberry.field(description="The workspace's team id (T...).")
    bot_token: str = strawberry.field(description="The app's bot token (xoxb-...).")
    alert_channel: str | None = strawberry.field(
        default=None, description="Channel id (C...) alerts go to when their service names none."
    )
    bot_user_id: str | None = None
