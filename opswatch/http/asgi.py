"""ASGI entry point for uvicorn (``opswatch.http.asgi:app``), configured from the environment."""

from opswatch.config import load_settings
from opswatch.http.app import create_app

# A served process (opswatch serve, opswatch api): its garbage collector is tuned.
app = create_app(load_settings(), tune_gc=True)
