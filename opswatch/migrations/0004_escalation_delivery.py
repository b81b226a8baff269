"""Escalation delivery: what each attempt said, when it went out, how often it was
tried; one default escalation policy per tenant (a partial unique index).

The new delivery states need no schema change (the column is text). An
AlterField for the enum's description would make Tortoise rebuild the table on
SQLite, losing its unique constraint, so there is none."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0003_calendar_tokens_handoff_report")]

    initial = False

    operations = [
        ops.AddField(
            model_name="EscalationEvent",
            name="attempts",
            field=fields.IntField(default=0),
        ),
        ops.AddField(
            model_name="EscalationEvent",
            name="message",
            field=fields.TextField(null=True, unique=False),
        ),
        ops.AddField(
            model_name="EscalationEvent",
            name="sent_at",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.RunSQL(
            "CREATE UNIQUE INDEX escalation_policy_one_default "
            "ON escalation_policy (tenant_id) WHERE is_default",
            reverse_sql="DROP INDEX escalation_policy_one_default",
        ),
        ops.RunSQL(
            "CREATE INDEX escalation_event_recent_sends "
            "ON escalation_event (to_address, channel, sent_at)",
            reverse_sql="DROP INDEX escalation_event_recent_sends",
        ),
        ops.RunSQL(
            "CREATE INDEX escalation_event_sending "
            "ON escalation_event (updated_at) WHERE status = 'sending'",
            reverse_sql="DROP INDEX escalation_event_sending",
        ),
    ]
