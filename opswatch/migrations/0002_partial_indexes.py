"""Indexes Tortoise cannot declare on a model: partial ones.

- One open alert per (tenant, fingerprint): the database, not a read-then-write,
  decides whether a firing event opens an alert or repeats one.
- Unprocessed inbox events: the sweeper's query stays cheap however large the
  processed history grows.
Both SQLite and PostgreSQL support this syntax.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0001_initial")]

    operations = [
        ops.RunSQL(
            "CREATE UNIQUE INDEX alert_one_open_per_fingerprint "
            "ON alert (tenant_id, fingerprint) WHERE status <> 'resolved'",
            reverse_sql="DROP INDEX alert_one_open_per_fingerprint",
        ),
        ops.RunSQL(
            "CREATE INDEX alert_event_unprocessed "
            "ON alert_event (received_at) WHERE processed_at IS NULL",
            reverse_sql="DROP INDEX alert_event_unprocessed",
        ),
    ]
