"""A tenant's telephony provider: which one, its from-number, its credentials (encrypted)."""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from opswatch import validation
from opswatch.audit.actor import Actor
from opswatch.audit.log import record
from opswatch.config import Settings
from opswatch.crypto import SecretBox
from opswatch.errors import Conflict, InvalidInput
from opswatch.escalation.providers.base import Telephony
from opswatch.escalation.providers.log import LogProvider
from opswatch.escalation.providers.twilio import TwilioProvider
from opswatch.models import Tenant
from opswatch.tenants.credential_shapes import check_credential
from opswatch.tenants.tenants import read_secrets, sealed_secrets

PROVIDERS = ("twilio", "vonage")
TWILIO_KEYS = ("twilio_account_sid", "twilio_auth_token")
VONAGE_KEYS = (
    "vonage_application_id",
    "vonage_private_key",
    "vonage_api_key",
    "vonage_api_secret",
    "vonage_signature_secret",
)


@dataclass(frozen=True)
class TelephonyConfig:
    provider: str
    from_number: str
    credentials: dict[str, str]  # clear text, only on the way in


async def configure_telephony(
    *, tenant: Tenant, box: SecretBox, config: TelephonyConfig, actor: Actor
) -> Tenant:
    if config.provider not in PROVIDERS:
        raise InvalidInput(f"provider must be one of {', '.join(PROVIDERS)}", field="provider")
    number = validation.phone("fromNumber", config.from_number)
    if number is None:
        raise InvalidInput(
            "fromNumber is required: the number calls and SMS come from", field="fromNumber"
        )
    required = TWILIO_KEYS if config.provider == "twilio" else VONAGE_KEYS
    for key in required:
        if not (config.credentials.get(key) or "").strip():
            field = _flag(key)
            raise InvalidInput(f"{field} is required for {config.provider}", field=field)
    secrets = {key: config.credentials[key].strip() for key in required}
    for key, value in secrets.items():
        check_credential(_flag(key), key, value)
    settings = {
        **tenant.settings,
        "telephony": {"provider": config.provider, "from_number": number},
    }
    try:
        async with in_transaction() as connection:
            await (
                Tenant.filter(id=tenant.id)
                .using_db(connection)
                .update(
                    settings=settings,
                    telephony_number=number,
                    secrets_encrypted=sealed_secrets(tenant, box, secrets),
                )
            )
            await record(
                tenant_id=tenant.id,
                actor=actor,
                action="tenant.telephony_configured",
                target_type="tenant",
                target_id=tenant.id,
                data={"provider": config.provider, "from": number, "keys": sorted(secrets)},
                connection=connection,
            )
    except IntegrityError:
        raise Conflict("another tenant already uses this number", field="fromNumber") from None
    await tenant.refresh_from_db()
    return tenant


def provider_for(tenant: Tenant, settings: Settings, box: SecretBox) -> Telephony | None:
    """The tenant's provider; the log provider in the embedded shape when none is
    configured; None (pages fail, visibly) in production without one."""
    chosen = (tenant.settings.get("telephony") or {}).get("provider")
    if chosen is None:
        return LogProvider() if settings.embedded else None
    secrets = read_secrets(tenant, box)
    from_number = str(tenant.settings["telephony"]["from_number"])
    if chosen == "twilio":
        return TwilioProvider(
            account_sid=secrets["twilio_account_sid"],
            auth_token=secrets["twilio_auth_token"],
            from_number=from_number,
            api_url=settings.twilio_api_url,
        )
    from opswatch.escalation.providers.vonage import VonageProvider

    return VonageProvider(
        application_id=secrets["vonage_application_id"],
        private_key=secrets["vonage_private_key"],
        api_key=secrets["vonage_api_key"],
        api_secret=secrets["vonage_api_secret"],
        from_number=from_number,
        api_host=settings.vonage_api_url,
    )


def _flag(key: str) -> str:
    """twilio_auth_token -> authToken, as the GraphQL input and CLI name it."""
    head, *rest = key.split("_", 1)[1].split("_")
    return head + "".join(part.capitalize() for part in rest)
