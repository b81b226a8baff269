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


@strawberry.type
class TelephonyTest:
    """What the provider answered when asked, with the stored credentials, for its account."""

    provider: str = strawberry.field(description='"twilio" or "vonage".')
    ok: bool = strawberry.field(description="The provider accepted the credentials.")
    status: int | None = strawberry.field(
        description="The provider's HTTP status; null when it could not be reached."
    )
    message: str = strawberry.field(
        description="What the provider said: the account's name and status, its balance, "
        "its error, or why it could not be reached."
    )
