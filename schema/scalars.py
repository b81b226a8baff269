"""Enums shared across the schema, mirrored from the model enums."""

from __future__ import annotations

from enum import Enum

import strawberry

from opswatch import models


@strawberry.enum
class Role(Enum):
    ADMIN = "admin"
    RESPONDER = "responder"
    VIEWER = "viewer"

    @classmethod
    def from_model(cls, role: models.Role) -> Role:
        return cls(role.value)

    def to_model(self) -> models.Role:
        return models.Role(self.value)
