"""Escalation: policies, the engine that walks their tiers, and delivery to people."""
