"""Types of the tenant's telephony account."""

from __future__ import annotations

import strawberry


@strawberry.input
class TelephonyInput:
    provider: str = strawberry.field(description='"twilio" or "vonage".')
    from_number: str = strawberry.field(description="E.164 number calls and SMS come from.")
    account_sid: str | None = None
    auth_token: str | None = None
    application_id: str | None = None
    private_key: str | None = None
    api_key: str | None = None
    api_secret: str | None = None
    signature_secret: str | None = None
