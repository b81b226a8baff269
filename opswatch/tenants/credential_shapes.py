"""What Twilio's and Vonage's credentials look like, checked before they are stored.

Only the shape: whether the provider accepts them is ``telephony_check``'s question.
A value copied with a character missing, or the README's ``AC…`` placeholder, is
refused here, naming the field as the client spells it, so a typo shows up when
the admin types it rather than on the first page at 3 a.m.
"""

from __future__ import annotations

import re

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from opswatch.errors import InvalidInput

# Credential key -> (the pattern it must match, what the admin is told it should be).
_SHAPES: dict[str, tuple[re.Pattern[str], str]] = {
    "twilio_account_sid": (
        re.compile(r"AC[0-9a-fA-F]{32}"),
        "must be your Twilio account SID: AC followed by 32 hexadecimal characters",
    ),
    "twilio_auth_token": (
        re.compile(r"[0-9a-fA-F]{32}"),
        "must be your Twilio auth token: 32 hexadecimal characters",
    ),
    "vonage_api_key": (
        re.compile(r"[0-9a-zA-Z]{8}"),
        "must be your Vonage API key: 8 letters and digits",
    ),
    "vonage_api_secret": (
        re.compile(r"[0-9a-zA-Z]{8,64}"),
        "must be your Vonage API secret: 8 to 64 letters and digits",
    ),
    "vonage_application_id": (
        re.compile(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}"),
        "must be the Vonage application's id, a UUID",
    ),
    "vonage_signature_secret": (
        re.compile(r"[\x21-\x7e]{8,255}"),
        "must be the signature secret Vonage shows: 8 to 255 characters, no spaces",
    ),
}

# A 4096-bit RSA key in PEM is about 3,300 characters; anything far larger is not one.
MAX_PRIVATE_KEY_CHARS = 16_384


def check_credential(field: str, key: str, value: str) -> None:
    """Raises InvalidInput naming ``field`` when ``value`` cannot be the ``key`` credential."""
    if key == "vonage_private_key":
        _check_private_key(field, value)
        return
    shape = _SHAPES.get(key)
    if shape is not None and not shape[0].fullmatch(value):
        raise InvalidInput(f"{field} {shape[1]}", field=field)


def _check_private_key(field: str, value: str) -> None:
    refused = InvalidInput(
        f"{field} must be the Vonage application's RSA private key in PEM "
        "(-----BEGIN PRIVATE KEY-----), unencrypted",
        field=field,
    )
    if len(value) > MAX_PRIVATE_KEY_CHARS or "-----BEGIN" not in value:
        raise refused
    try:
        key = load_pem_private_key(value.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise refused from None
    # Vonage signs its JWTs RS256: any other kind of key fails on the first call.
    if not isinstance(key, RSAPrivateKey):
        raise refused
