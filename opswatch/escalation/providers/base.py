"""The one interface every telephony provider implements, and how sends fail.

A send either hands the message to the provider (``Sent``), or fails in one of
three ways the delivery job treats differently:

- ``ProviderUnavailable``: it certainly did not go out (connection refused, 5xx,
  429); retried with backoff.
- ``Rejected``: the provider refused it for good (bad number, bad credentials);
  recorded as failed with the provider's reason, not retried.
- ``OutcomeUnknown``: the request may have reached the provider but no answer
  came back (a timeout); recorded as unknown and never resent blindly, because
  a second call at 3 a.m. for the same page is its own kind of failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from opswatch.models import DeliveryStatus

SEND_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Sent:
    provider_ref: str | None
    status: DeliveryStatus = DeliveryStatus.QUEUED


@dataclass(frozen=True)
class CallLinks:
    """Where the provider calls back during a phone call (absolute URLs)."""

    gather_url: str  # the pressed digit arrives here
    no_input_url: str  # nothing pressed: repeat once, then hang up
    status_url: str  # call progress: ringing, answered, completed, no-answer...


class ProviderUnavailable(Exception):
    """Not sent; try again later."""


class Rejected(Exception):
    """Refused for good; the message says why."""


class OutcomeUnknown(Exception):
    """Maybe sent; do not send again."""


class Telephony(Protocol):
    name: str

    async def call(self, *, to: str, script: str, links: CallLinks) -> Sent:
        """Place a call that reads ``script`` and collects one digit."""

    async def text(self, *, to: str, body: str, status_url: str) -> Sent:
        """Send an SMS."""
