"""Validators shared by every surface; each raises InvalidInput naming the field."""

from __future__ import annotations

import re
import uuid
import zoneinfo

from opswatch.errors import InvalidInput

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def required_text(field: str, value: str | None, *, max_length: int) -> str:
    text = (value or "").strip()
    if not text:
        raise InvalidInput(f"{field} must not be empty", field=field)
    if len(text) > max_length:
        raise InvalidInput(f"{field} must be at most {max_length} characters", field=field)
    return text


def optional_text(field: str, value: str | None, *, max_length: int) -> str | None:
    if value is None or not value.strip():
        return None
    return required_text(field, value, max_length=max_length)


def email(field: str, value: str) -> str:
    text = value.strip().lower()
    if not _EMAIL.match(text) or len(text) > 320:
        raise InvalidInput(f"{field} is not an e-mail address", field=field)
    return text


def phone(field: str, value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    text = value.strip()
    if not _E164.match(text):
        raise InvalidInput(f"{field} must be in E.164 form, like +4915112345678", field=field)
    return text


MAX_ZONE_NAME = 64  # the longest IANA name is 32 characters


def timezone(field: str, value: str) -> str:
    unknown = InvalidInput(f"{field}: unknown time zone {value[:MAX_ZONE_NAME]!r}", field=field)
    if len(value) > MAX_ZONE_NAME:
        raise unknown
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: a name of a directory of the zone database ("America") is read as
        # a file, and fails as one; it is a wrong name all the same.
        raise unknown from None
    return value


def slug(field: str, value: str) -> str:
    if not _SLUG.match(value):
        raise InvalidInput(
            f"{field} must be lowercase letters, digits and dashes (1-64 characters)", field=field
        )
    return value


def slugify(name: str) -> str:
    text = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return text[:64].strip("-") or "tenant"


def hhmm(field: str, value: str) -> str:
    if not _HHMM.match(value):
        raise InvalidInput(f"{field} must be a local time as HH:MM, like 08:00", field=field)
    return value


def uuid_id(field: str, value: str) -> uuid.UUID:
    """Parse an id; a malformed one is reported as not found by callers that prefer it."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise InvalidInput(f"{field} is not a valid id", field=field) from None
