"""Who did something, and through which surface: the subject of every audit entry."""

from __future__ import annotations

from dataclasses import dataclass

from opswatch.models.enums import ActorType


@dataclass(frozen=True)
class Actor:
    type: ActorType
    id: str | None
    name: str | None
    source: str  # graphql, rest, cli, webhook, slack, phone, sms, system

    @classmethod
    def system(cls, source: str = "system") -> Actor:
        return cls(type=ActorType.SYSTEM, id=None, name="opswatch", source=source)

    @classmethod
    def cli(cls) -> Actor:
        return cls(type=ActorType.SYSTEM, id=None, name="cli", source="cli")
