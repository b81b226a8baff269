"""Live events: published once, fanned out to subscribers, replayable by cursor."""

from opswatch.events.base import EventBus, LiveEvent

__all__ = ["EventBus", "LiveEvent"]
