"""Slack Web API calls counted by method and outcome, at the one place every client of
ours is built (``opswatch.slack.workspace.new_client``)."""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from opswatch.metrics.definitions import SLACK_CALLS


class CountedWebClient(AsyncWebClient):
    async def api_call(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:
        try:
            response = await super().api_call(api_method, **kwargs)
        except SlackApiError as error:
            SLACK_CALLS.labels(api_method, str(error.response.get("error") or "error")).inc()
            raise
        except TimeoutError:
            SLACK_CALLS.labels(api_method, "timeout").inc()
            raise
        except Exception:
            SLACK_CALLS.labels(api_method, "unreachable").inc()
            raise
        SLACK_CALLS.labels(api_method, "ok").inc()
        return response
