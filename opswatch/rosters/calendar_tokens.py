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
from opswatch.models import User


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


async def user_feed_token(user: User) -> str:
    """The clear token of ``user``'s personal feed, issued on first use.

    Two first uses racing both try to set it only where it is still unset; the
    loser reads the winner's token.
    """
    sealed: str | None = user.calendar_token_sealed
    if sealed is None:
        token = issue()
        await User.filter(id=user.id, calendar_token=None).update(
            calendar_token=token.digest, calendar_token_sealed=token.sealed
        )
        stored = await User.get_or_none(id=user.id).only("id", "calendar_token_sealed")
        sealed = stored.calendar_token_sealed if stored is not None else None
    if sealed is None:
        raise RuntimeError("the user vanished while their calendar token was issued")
    return reveal(sealed)


def feed_url(kind: str, clear: str) -> str:
    """``kind`` is "rosters" or "users"."""
    return f"{runtime.current().settings.public_url}/api/v1/calendars/{kind}/{clear}.ics"
