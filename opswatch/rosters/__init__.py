"""Rosters: rotations, follow-the-sun, overrides, handoffs and calendars."""
