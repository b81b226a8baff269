"""Enums several domains' types share."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum
class Severity(Enum):
    CRITICAL = "critical"
    HIGH = "high"
    WARNING = "warning"
    LOW = "low"
    INFO = "info"
