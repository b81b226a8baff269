"""Quarantined inbox events, and a fair claim across tenants.

- ``alert_event.error``: why processing an event failed. An event that fails
  again and again is set aside (``outcome = 'failed'``, processed) with its
  error, instead of being retried forever in front of everyone else's alerts.
- An index over the failed events of each tenant, for admins listing them.
- An index over each tenant's unprocessed events in arrival order: the drain
  claims a share from every tenant with a backlog, so one tenant's storm does
  not queue every other tenant's alerts behind it.
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0010_notification_updated_at")]

    initial = False

    operations = [
        ops.AddField(
            model_name="AlertEvent",
            name="error",
            field=fields.TextField(null=True),
        ),
        ops.RunSQL(
            "CREATE INDEX IF NOT EXISTS alert_event_failed ON alert_event (tenant_id, processed_at) "
            "WHERE outcome = 'failed'",
            reverse_sql="DROP INDEX alert_event_failed",
        ),
        ops.RunSQL(
            "CREATE INDEX IF NOT EXISTS alert_event_unprocessed_by_tenant "
            "ON alert_event (tenant_id, received_at) WHERE processed_at IS NULL",
            reverse_sql="DROP INDEX alert_event_unprocessed_by_tenant",
        ),
    ]
