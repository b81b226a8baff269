"""Short alert ids (``abc123``) that people can read out, type into an SMS, or say."""

from __future__ import annotations

import secrets

# No 0/o, 1/l/i: a responder reads these on a phone at 3 a.m.
ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
LENGTH = 6


def new_short_id() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
