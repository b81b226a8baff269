"""The Slack app: the alert message's sync lease, and receipts of inbound events.

The partial index keeps finding alerts whose Slack message is due cheap however
many alerts are stored (almost none are due at any time).
"""

from uuid import uuid4

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0005_tenant_telephony_number")]

    initial = False

    operations = [
        ops.CreateModel(
            name="SlackEventReceipt",
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
                        related_name="slack_event_receipts",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("event_id", fields.CharField(max_length=64)),
            ],
            options={
                "table": "slack_event_receipt",
                "app": "models",
                "unique_together": (("tenant_id", "event_id"),),
                "pk_attr": "id",
                "table_description": (
                    "An inbound Slack event already taken: Slack retries deliveries it thinks"
                ),
            },
            bases=["Entity"],
        ),
        ops.AddField(
            model_name="Alert",
            name="notify_claimed_until",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.RunSQL(
            "CREATE INDEX alert_slack_due ON alert (updated_at) "
            "WHERE notify_pending OR notify_claimed_until IS NOT NULL",
            reverse_sql="DROP INDEX alert_slack_due",
        ),
    ]
