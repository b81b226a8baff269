"""Who a tier reaches, on which channels, at which address: one attempt each.

A roster with nobody on call does not stop the tier: it is recorded as a failed
attempt (so the gap is visible in the alert's history) and the tier's named
users are still reached. A person without a phone number fails the same way
for SMS and calls, not silently.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from opswatch.models import Channel, DeliveryStatus, Roster, User

PERSONAL = (Channel.SLACK_DM, Channel.SMS, Channel.PHONE)


@dataclass(frozen=True)
class Attempt:
    target: str  # a user id, "roster:<id>" for an unstaffed roster, or a Slack channel id
    channel: Channel
    user_id: uuid.UUID | None = None
    to_address: str | None = None
    status: DeliveryStatus = DeliveryStatus.PENDING
    reason: str | None = None


def attempts_for(
    *,
    channels: Sequence[Channel],
    rosters: Sequence[Roster],
    named: Sequence[User],
    oncall: Mapping[uuid.UUID, User | None],
    slack_channel: str | None,
) -> list[Attempt]:
    attempts: list[Attempt] = []
    people: dict[uuid.UUID, User] = {}
    personal = [c for c in channels if c in PERSONAL]
    for roster in rosters:
        holder = oncall.get(roster.id)
        if holder is None:
            attempts.append(
                Attempt(
                    target=f"roster:{roster.id}",
                    channel=personal[0] if personal else channels[0],
                    status=DeliveryStatus.FAILED,
                    reason=f"nobody is on call for {roster.name}",
                )
            )
        else:
            people.setdefault(holder.id, holder)
    for user in named:
        people.setdefault(user.id, user)
    for person in people.values():
        if not person.active:
            continue
        for channel in personal:
            attempts.append(_personal(person, channel))
    if Channel.SLACK_CHANNEL in channels:
        attempts.append(
            Attempt(target=slack_channel, channel=Channel.SLACK_CHANNEL, to_address=slack_channel)
            if slack_channel
            else Attempt(
                target="slack:unset",
                channel=Channel.SLACK_CHANNEL,
                status=DeliveryStatus.FAILED,
                reason="no Slack channel is set for the service or the tenant",
            )
        )
    return attempts


def _personal(person: User, channel: Channel) -> Attempt:
    if channel is Channel.SLACK_DM:
        return Attempt(str(person.id), channel, person.id, person.slack_user_id or person.email)
    if not person.phone:
        return Attempt(
            str(person.id),
            channel,
            person.id,
            status=DeliveryStatus.FAILED,
            reason=f"{person.name} has no phone number",
        )
    return Attempt(str(person.id), channel, person.id, person.phone)
