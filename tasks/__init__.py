"""Background jobs (Dramatiq actors in production, in-process tasks when embedded).

Importing this package registers every job.
"""

from tasks import tenants  # noqa: F401
