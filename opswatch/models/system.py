"""Process coordination state that must be shared through the database."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class SchedulerLease(Model):
    """Leader lease: only the holder of a name runs its periodic ticks.

    Taken and renewed by one conditional UPDATE, so two schedulers never both hold it.
    """

    name = fields.CharField(max_length=64, primary_key=True)
    holder = fields.CharField(max_length=128)
    expires_at = fields.DatetimeField()

    class Meta:
        table = "scheduler_lease"
