"""Every table of OpsWatch. All rows but the scheduler lease belong to a tenant."""

from opswatch.models.alerts import OPEN_ALERT_INDEX, Alert, AlertEvent
from opswatch.models.audit import AuditLog, AuditLogArchive
from opswatch.models.enums import (
    ActorType,
    AlertSourceFormat,
    AlertStatus,
    Channel,
    DeliveryStatus,
    EscalationState,
    IncidentSource,
    IncidentStatus,
    Role,
    RosterKind,
    Severity,
)
from opswatch.models.escalation import (
    EscalationEvent,
    EscalationPolicy,
    EscalationTier,
    Notification,
    ProviderBreaker,
    SlackEventReceipt,
)
from opswatch.models.knowledge import Incident, IncidentUpdate, Runbook
from opswatch.models.rosters import Handoff, Override, Roster, RosterMember
from opswatch.models.system import SchedulerLease
from opswatch.models.tenants import ApiKey, Service, Tenant, User, UserToken

__all__ = [
    "OPEN_ALERT_INDEX",
    "ActorType",
    "Alert",
    "AlertEvent",
    "AlertSourceFormat",
    "AlertStatus",
    "ApiKey",
    "AuditLog",
    "AuditLogArchive",
    "Channel",
    "DeliveryStatus",
    "EscalationEvent",
    "EscalationPolicy",
    "EscalationState",
    "EscalationTier",
    "Handoff",
    "Incident",
    "IncidentSource",
    "IncidentStatus",
    "IncidentUpdate",
    "Notification",
    "Override",
    "ProviderBreaker",
    "Role",
    "Roster",
    "RosterKind",
    "RosterMember",
    "Runbook",
    "SchedulerLease",
    "Service",
    "Severity",
    "SlackEventReceipt",
    "Tenant",
    "User",
    "UserToken",
]
