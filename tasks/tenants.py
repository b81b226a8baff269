"""Jobs of the tenants domain."""

from __future__ import annotations

from opswatch.queue import job
from opswatch.tenants.usage import mark_credential_used


@job("tenants.mark_credential_used", max_retries=3)
async def mark_credential_used_job(*, kind: str, credential_id: str, used_at: str) -> None:
    await mark_credential_used(kind=kind, credential_id=credential_id, used_at=used_at)
