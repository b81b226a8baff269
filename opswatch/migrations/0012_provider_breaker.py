"""Provider breakers, and indexes over the escalation events still pending.

- ``provider_breaker``: one row per tenant and provider that has failed at
  least once: how many tries failed in a row, until when delivery leaves that
  provider alone, and the lease of the one job allowed to try it again.
- ``escalation_event_pending_by_person``: a delivery claims the pending events
  of one person and channel (oldest first, a bounded number) and the resume
  job groups pending events by person and channel. Without it both read every
  event ever sent to that number, which a storm makes tens of thousands.
- ``escalation_event_pending_age``: the resume job's cut-offs (pending for a few
  seconds, or so long that it gives up) read the oldest pending events only.

Both indexes hold pending events only, which are few except during an outage.
No AlterField for the delivery status enum's description: on SQLite it would
rebuild the table and lose its unique constraint (see 0004).
"""

from uuid import uuid4

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0011_inbox_quarantine")]

    initial = False

    operations = [
        ops.CreateModel(
            name="ProviderBreaker",
            fields=[
                (
                    "id",
                    fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                (
                    "tenant",
                    fields.ForeignKeyField(
                        "models.Tenant",
                        source_field="tenant_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="provider_breakers",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("provider", fields.CharField(max_length=32)),
                ("failures", fields.IntField(default=0)),
                ("open_until", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                (
                    "probe_until",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("last_error", fields.TextField(null=True, unique=False)),
                ("updated_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "provider_breaker",
                "app": "models",
                "unique_together": (("tenant_id", "provider"),),
                "pk_attr": "id",
                "table_description": (
                    'Whether one tenant\'s provider ("twilio", "vonage", "slack", "log") '
                    "takes messages."
                ),
            },
            bases=["Entity"],
        ),
        ops.RunSQL(
            "CREATE INDEX IF NOT EXISTS escalation_event_pending_by_person "
            "ON escalation_event (tenant_id, channel, to_address, created_at) "
            "WHERE status = 'pending'",
            reverse_sql="DROP INDEX escalation_event_pending_by_person",
        ),
        ops.RunSQL(
            "CREATE INDEX IF NOT EXISTS escalation_event_pending_age "
            "ON escalation_event (created_at) WHERE status = 'pending'",
            reverse_sql="DROP INDEX escalation_event_pending_age",
        ),
    ]
