"""Background jobs (Dramatiq actors in production, in-process tasks when embedded).

Importing this package registers every job and its periodic ticks.
"""

from tasks import alerts, audit, escalation, rosters, slack, tenants  # noqa: F401
