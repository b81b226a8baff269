"""The embedded shape's provider: it records what would have been sent and logs it.

A new user sees escalation happen (the attempts, their text, "sent") in
GraphQL and in the server log without a Twilio or Vonage account.
"""

from __future__ import annotations

import logging
import uuid

from opswatch.escalation.providers.base import CallLinks, Sent
from opswatch.models import DeliveryStatus

log = logging.getLogger("opswatch.pages")


class LogProvider:
    name = "log"

    async def call(self, *, to: str, script: str, links: CallLinks) -> Sent:
        log.warning("would call %s: %s (digits to %s)", to, script, links.gather_url)
        return Sent(f"log-{uuid.uuid4().hex[:12]}", DeliveryStatus.SENT)

    async def text(self, *, to: str, body: str, status_url: str) -> Sent:
        log.warning("would text %s: %s", to, body)
        return Sent(f"log-{uuid.uuid4().hex[:12]}", DeliveryStatus.SENT)

    async def message(self, *, to: str, body: str) -> Sent:
        """Slack, until the Slack app sends for real."""
        log.warning("would post to Slack %s: %s", to, body)
        return Sent(f"log-{uuid.uuid4().hex[:12]}", DeliveryStatus.SENT)
