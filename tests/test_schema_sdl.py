"""The committed SDL is what clients see: it must match the code."""

from __future__ import annotations

from pathlib import Path

from schema.schema import schema

SDL = Path(__file__).resolve().parents[1] / "schema" / "schema.graphql"


def test_exported_sdl_is_current() -> None:
    assert SDL.read_text() == schema.as_str() + "\n", (
        "schema/schema.graphql is stale: run `make schema` and commit it"
    )
