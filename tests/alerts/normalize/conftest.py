from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def clean_database() -> None:
    """Normalisation is pure: these tests need no database."""
