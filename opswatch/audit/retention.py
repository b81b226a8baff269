"""How long a tenant keeps resolved alerts and audit entries (spec 6)."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from opswatch.audit.actor import Actor
from opswatch.audit.log import record
from opswatch.errors import InvalidInput
from opswatch.models import Tenant

DEFAULT_ALERT_DAYS = 90
DEFAULT_AUDIT_DAYS = 365
# A day is the least that makes sense; ten years the most anyone keeps alert noise
# for, and audit law rarely asks for more than ten years either.
LIMITS = {"retentionDaysAlerts": (1, 3_650), "retentionDaysAudit": (1, 3_650)}


def retention_of(tenant: Tenant) -> tuple[int, int]:
    """(alert days, audit days); a stored value out of bounds falls back to the default."""
    settings = tenant.settings or {}
    return (
        _days(settings.get("retention_days_alerts"), DEFAULT_ALERT_DAYS),
        _days(settings.get("retention_days_audit"), DEFAULT_AUDIT_DAYS),
    )


def _days(value: object, default: int) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 3_650:
        return value
    return default


def check_days(field: str, value: int | None) -> int | None:
    if value is None:
        return None
    low, high = LIMITS[field]
    if isinstance(value, bool) or not low <= value <= high:
        raise InvalidInput(f"{field} must be between {low} and {high} days", field=field)
    return value


async def set_retention(
    *, tenant: Tenant, alert_days: int | None, audit_days: int | None, actor: Actor
) -> Tenant:
    alerts = check_days("retentionDaysAlerts", alert_days)
    audit = check_days("retentionDaysAudit", audit_days)
    before = retention_of(tenant)
    settings = dict(tenant.settings or {})
    if alerts is not None:
        settings["retention_days_alerts"] = alerts
    if audit is not None:
        settings["retention_days_audit"] = audit
    async with in_transaction() as connection:
        await Tenant.filter(id=tenant.id).using_db(connection).update(settings=settings)
        await record(
            tenant_id=tenant.id,
            actor=actor,
            action="tenant.retention_changed",
            target_type="tenant",
            target_id=tenant.id,
            data={
                "before": {"alerts": before[0], "audit": before[1]},
                "after": {
                    "alerts": settings.get("retention_days_alerts", before[0]),
                    "audit": settings.get("retention_days_audit", before[1]),
                },
            },
            connection=connection,
        )
    await tenant.refresh_from_db()
    return tenant
