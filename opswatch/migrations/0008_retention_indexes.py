"""Indexes the retention run (``opswatch cleanup``) needs to stay cheap over
millions of rows:

- resolved alerts by age, per tenant (the batch select);
- inbox events by alert (deleting an alert's events, and the foreign key's own
  ON DELETE check, which otherwise scans the whole inbox for every alert);
- notices by age, per tenant.

Both SQLite and PostgreSQL support this syntax. (On a large PostgreSQL
database, build them first with CREATE INDEX CONCURRENTLY under these names to
avoid locking writes while the migration runs; IF NOT EXISTS then skips them.)
"""

from tortoise import migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0007_knowledge_search")]

    initial = False

    operations = [
        ops.RunSQL(
            "CREATE INDEX IF NOT EXISTS alert_resolved_age ON alert (tenant_id, resolved_at) "
            "WHERE status = 'resolved'",
            reverse_sql="DROP INDEX alert_resolved_age",
        ),
        ops.RunSQL(
            "CREATE INDEX IF NOT EXISTS alert_event_alert ON alert_event (alert_id)",
            reverse_sql="DROP INDEX alert_event_alert",
        ),
        ops.RunSQL(
            "CREATE INDEX IF NOT EXISTS notification_age ON notification (tenant_id, created_at)",
            reverse_sql="DROP INDEX notification_age",
        ),
    ]
