"""Tokens in calendar feed URLs: unguessable, looked up by digest, shown again on request.

A calendar app cannot send an Authorization header, so the URL itself is the
credential. The database keeps the SHA-256 digest (to find the feed) and an
encrypted copy (so a member can fetch the URL again); neither alone gives the
URL to someone who reads a backup without the secret key.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from opswatch import runtime
from opswatch.crypto import hash_credential


@dataclass(frozen=True)
class CalendarToken:
    clear: str
    digest: str
    sealed: str


def issue() -> CalendarToken:
    clear = secrets.token_urlsafe(32)
    return CalendarToken(clear, hash_credential(clear), runtime.current().secret_box.encrypt(clear))


def reveal(sealed: str) -> str:
    return runtime.current().secret_box.decrypt(sealed)


def digest_of(clear: str) -> str:
    return hash_credential(clear)
