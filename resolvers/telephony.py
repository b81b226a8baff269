"""Resolvers of the tenant's telephony account (Twilio or Vonage)."""

from __future__ import annotations

from opswatch import models, runtime
from opswatch.tenants.telephony import TelephonyConfig, configure_telephony
from opswatch.tenants.telephony_check import check_telephony
from resolvers.context import Info
from schema.telephony import TelephonyInput, TelephonyTest
from schema.tenants import Tenant


async def configure_telephony_resolver(info: Info, input: TelephonyInput) -> Tenant:
    """Secrets are stored encrypted and never returned."""
    principal = info.context.viewer(models.Role.ADMIN)
    prefix = f"{input.provider}_"
    credentials = {
        f"{prefix}account_sid": input.account_sid,
        f"{prefix}auth_token": input.auth_token,
        f"{prefix}application_id": input.application_id,
        f"{prefix}private_key": input.private_key,
        f"{prefix}api_key": input.api_key,
        f"{prefix}api_secret": input.api_secret,
        f"{prefix}signature_secret": input.signature_secret,
    }
    tenant = await configure_telephony(
        tenant=principal.tenant,
        box=runtime.current().secret_box,
        config=TelephonyConfig(
            provider=input.provider.lower(),
            from_number=input.from_number,
            credentials={k: v for k, v in credentials.items() if v},
        ),
        actor=principal.actor("graphql"),
    )
    return Tenant.from_model(tenant)


async def telephony_test_resolver(info: Info) -> TelephonyTest:
    """One read of the provider's account with the stored credentials; changes nothing."""
    principal = info.context.viewer(models.Role.ADMIN)
    current = runtime.current()
    check = await check_telephony(
        tenant=principal.tenant, settings=current.settings, box=current.secret_box
    )
    return TelephonyTest(
        provider=check.provider, ok=check.ok, status=check.status, message=check.message
    )
