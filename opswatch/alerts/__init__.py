"""Alerts: ingest, normalisation, dedup, enrichment and the actions people take on them."""
