"""Enumerations stored as strings: readable in SQL, stable across renames of Python names."""

from __future__ import annotations

from enum import Enum


class Role(str, Enum):
    ADMIN = "admin"
    RESPONDER = "responder"
    VIEWER = "viewer"

    def allows(self, needed: Role) -> bool:
        order = [Role.VIEWER, Role.RESPONDER, Role.ADMIN]
        return order.index(self) >= order.index(needed)


class Severity(str, Enum):
    CRITICAL = "critical"
    HIGH = "high"
    WARNING = "warning"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is more urgent; used for minimum-severity checks and ordering."""
        return {"critical": 4, "high": 3, "warning": 2, "low": 1, "info": 0}[self.value]


class AlertStatus(str, Enum):
    FIRING = "firing"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class AlertSourceFormat(str, Enum):
    ALERTMANAGER = "alertmanager"
    KEEP = "keep"
    GENERIC = "generic"
    AGENT = "agent"


class EscalationState(str, Enum):
    NONE = "none"
    ACTIVE = "active"
    STOPPED = "stopped"
    EXHAUSTED = "exhausted"


class IncidentStatus(str, Enum):
    OPEN = "open"
    INVESTIGATING = "investigating"
    RESOLVED = "resolved"


class IncidentSource(str, Enum):
    MANUAL = "manual"
    SLACK = "slack"
    AGENT = "agent"
    PROMOTION = "promotion"


class RosterKind(str, Enum):
    STANDARD = "standard"
    FOLLOW_THE_SUN = "follow_the_sun"


class Channel(str, Enum):
    SLACK_DM = "slack_dm"
    SMS = "sms"
    PHONE = "phone"
    SLACK_CHANNEL = "slack_channel"


class DeliveryStatus(str, Enum):
    PENDING = "pending"
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    THROTTLED = "throttled"
    UNKNOWN = "unknown"


class ActorType(str, Enum):
    USER = "user"
    API_KEY = "api_key"
    SLACK_USER = "slack_user"
    PHONE = "phone"
    AGENT = "agent"
    SYSTEM = "system"
