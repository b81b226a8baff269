"""Secrets at rest are encrypted; keys and tokens are stored as hashes only."""

from __future__ import annotations

import hashlib

import pytest

from opswatch.audit.actor import Actor
from opswatch.crypto import SecretBox, SecretDecryptionError
from opswatch.models import ApiKey, Tenant
from opswatch.runtime import Runtime
from opswatch.tenants.tenants import read_secrets, store_secrets
from tests.factories import TenantKit


def test_rotated_keys_still_decrypt_old_secrets() -> None:
    old = SecretBox(("o" * 40,))
    token = old.encrypt("xoxb-123")
    rotated = SecretBox(("n" * 40, "o" * 40))
    assert rotated.decrypt(token) == "xoxb-123"
    with pytest.raises(SecretDecryptionError):
        SecretBox(("n" * 40,)).decrypt(token)


async def test_tenant_secrets_are_stored_encrypted(acme: TenantKit, app_runtime: Runtime) -> None:
    box = app_runtime.secret_box
    await store_secrets(
        tenant=acme.tenant, box=box, updates={"slack_bot_token": "xoxb-secret"}, actor=Actor.cli()
    )
    stored = await Tenant.get(id=acme.tenant.id)
    assert stored.secrets_encrypted is not None
    assert "xoxb-secret" not in stored.secrets_encrypted
    assert read_secrets(stored, box) == {"slack_bot_token": "xoxb-secret"}


async def test_api_keys_are_stored_hashed(acme: TenantKit) -> None:
    stored = await ApiKey.get(tenant=acme.tenant)
    secret_part = acme.api_key.split("_", 2)[2]
    assert stored.key_hash == hashlib.sha256(acme.api_key.encode()).hexdigest()
    assert secret_part not in stored.key_hash
    assert stored.prefix == acme.api_key.split("_", 2)[1]
