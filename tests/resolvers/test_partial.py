"""What an ``…Update`` input gave, told apart from what it left out."""

from __future__ import annotations

import pytest
import strawberry

from opswatch.errors import InvalidInput
from resolvers.partial import given


@strawberry.input
class ThingUpdate:
    name: str | None = strawberry.UNSET
    phone_number: str | None = strawberry.UNSET


def test_fields_left_out_are_not_changes_and_null_clears() -> None:
    assert given(ThingUpdate(phone_number=None), required=["name"]) == {"phone_number": None}
    assert given(ThingUpdate()) == {}


def test_a_required_field_cannot_be_nulled_and_the_error_names_it_as_clients_spell_it() -> None:
    with pytest.raises(InvalidInput) as refused:
        given(ThingUpdate(name="x", phone_number=None), required=["phone_number"])
    assert refused.value.field == "phoneNumber"
