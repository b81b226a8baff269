"""The number a tenant calls and texts from; inbound SMS find their tenant by it."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0004_escalation_delivery")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Tenant",
            name="telephony_number",
            field=fields.CharField(null=True, unique=True, max_length=20),
        ),
    ]
