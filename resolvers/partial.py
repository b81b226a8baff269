"""Partial updates: what an ``…Update`` input gave, told apart from what it left out.

Every field of an ``…Update`` input defaults to ``strawberry.UNSET``. A field left
out is unchanged; an explicit ``null`` clears a nullable field; ``null`` for a field
that must have a value is refused, naming the field as the client spells it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

import strawberry
from strawberry.utils.str_converters import to_camel_case

from opswatch.errors import InvalidInput


def given(input: object, *, required: Iterable[str] = ()) -> dict[str, Any]:
    """The fields ``input`` carries, by their Python names; ``required`` (Python names)
    may be changed but not nulled."""
    must_have = set(required)
    changes: dict[str, Any] = {}
    for field in dataclasses.fields(input):  # type: ignore[arg-type]
        value = getattr(input, field.name)
        if value is strawberry.UNSET:
            continue
        if value is None and field.name in must_have:
            name = to_camel_case(field.name)
            raise InvalidInput(f"{name} cannot be null; leave it out to keep it", field=name)
        changes[field.name] = value
    return changes
