"""Calendar feed tokens kept as digest plus sealed copy (rosters and users), and the
handoff report (who held the pager before and after, open alerts at the handoff)."""

from orjson import loads
from tortoise import fields, migrations
from tortoise.fields.data import JSON_DUMPS
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0002_partial_indexes")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Handoff",
            name="report",
            field=fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads),
        ),
        ops.AddField(
            model_name="Roster",
            name="calendar_token_sealed",
            field=fields.TextField(null=True, unique=False),
        ),
        ops.AddField(
            model_name="User",
            name="calendar_token",
            field=fields.CharField(null=True, unique=True, max_length=64),
        ),
        ops.AddField(
            model_name="User",
            name="calendar_token_sealed",
            field=fields.TextField(null=True, unique=False),
        ),
    ]
