"""``notification.updated_at``, and an index over the Slack DMs still to send.

The notices job looks for pending DMs every ten seconds and for DMs left
"sending" by a job that died. Notices of every kind share the table (each
alert's Slack message and thread lines are notices too), so without the partial
index both would read the whole table at every run; with it they read only the
few notices still open.
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0009_config_version")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Notification",
            name="updated_at",
            field=fields.DatetimeField(null=True),
        ),
        ops.RunSQL(
            "CREATE INDEX IF NOT EXISTS notification_open_dm ON notification (status, created_at) "
            "WHERE status IN ('pending', 'sending') AND channel = 'slack_dm'",
            reverse_sql="DROP INDEX notification_open_dm",
        ),
    ]
