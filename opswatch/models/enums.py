"""Enumerations stored as strings: readable in SQL, stable across renames of Python names."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    RESPONDER = "responder"
    VIEWER = "viewer"

    def allows(self, needed: Role) -> bool:
        order = [Role.VIEWER, Role.RESPONDER, Role.ADMIN]
        return order.index(self) >= order.index(needed)


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    WARNING = "warning"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is more urgent; used for minimum-severity checks and ordering."""
        return {"critical": 4, "high": 3, "warning": 2, "low": 1, "info": 0}[self.value]


class AlertStatus(StrEnum):
    FIRING = "firing"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class AlertSourceFormat(StrEnum):
    ALERTMANAGER = "alertmanager"
    KEEP = "keep"
    GENERIC = "generic"
    AGENT = "agent"


class EscalationState(StrEnum):
    NONE = "none"
    ACTIVE = "active"
    STOPPED = "stopped"
    EXHAUSTED = "exhausted"


class IncidentStatus(StrEnum):
    OPEN = "open"
    INVESTIGATING = "investigating"
    RESOLVED = "resolved"


class IncidentSource(StrEnum):
    MANUAL = "manual"
    SLACK = "slack"
    AGENT = "agent"
    PROMOTION = "promotion"


class RosterKind(StrEnum):
    STANDARD = "standard"
    FOLLOW_THE_SUN = "follow_the_sun"


class Channel(StrEnum):
    SLACK_DM = "slack_dm"
    SMS = "sms"
    PHONE = "phone"
    SLACK_CHANNEL = "slack_channel"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # handed to a job that is talking to the provider
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    THROTTLED = "throttled"  # folded into another message to the same person
    UNKNOWN = "unknown"  # the provider did not answer: maybe sent, never resent blindly
    CANCELED = "canceled"  # acknowledged or resolved before it went out


class ActorType(StrEnum):
    USER = "user"
    API_KEY = "api_key"
    SLACK_USER = "slack_user"
    PHONE = "phone"
    AGENT = "agent"
    SYSTEM = "system"
