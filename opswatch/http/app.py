"""The Starlette application factory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp

from opswatch import db, runtime
from opswatch.config import Settings
from opswatch.errors import OpsWatchError
from opswatch.gc_tuning import tune_for_server
from opswatch.http import failures, incidents, rosters, runbooks, slack, twilio, vonage, webhooks
from opswatch.http.graphql import graphql_app
from opswatch.http.health import healthz, readyz
from opswatch.http.limits import BodyLimitMiddleware
from opswatch.http.metrics import MetricsMiddleware
from opswatch.metrics.scrape import metrics

log = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    *,
    connect_database: bool = True,
    run_scheduler: bool | None = None,
    shared_runtime: runtime.Runtime | None = None,
    tune_gc: bool = False,
) -> Starlette:
    """Build the app. ``run_scheduler`` defaults to the embedded shape, where this one
    process also runs the periodic ticks; in production ``opswatch scheduler`` does.
    A ``shared_runtime`` (tests) is used as it is: its owner starts and stops it."""
    scheduler_wanted = settings.embedded if run_scheduler is None else run_scheduler

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if connect_database:
            await db.connect(settings.database_url)
        current = shared_runtime or runtime.build(settings)
        runtime.install(current)
        if shared_runtime is None:
            await current.queue.start()
            await current.events.start()
        scheduler: asyncio.Task[None] | None = None
        if scheduler_wanted:
            from tasks.scheduler import Scheduler

            scheduler = asyncio.get_running_loop().create_task(Scheduler().run_forever())
        if tune_gc:
            tune_for_server()  # after start-up, so what it built is frozen
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await scheduler
            if shared_runtime is None:
                await current.queue.stop()
                await current.events.stop()
            if connect_database:
                await db.disconnect()

    graphql = graphql_app(graphiql=settings.embedded)
    routes = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        Route("/api/v1/webhooks/alertmanager", webhooks.alertmanager, methods=["POST"]),
        Route("/api/v1/webhooks/keep", webhooks.keep, methods=["POST"]),
        Route("/api/v1/webhooks/generic", webhooks.generic, methods=["POST"]),
        Route("/api/v1/rosters/{roster_id}/oncall", rosters.roster_oncall),
        Route("/api/v1/calendars/rosters/{token}.ics", rosters.roster_calendar),
        Route("/api/v1/calendars/users/{token}.ics", rosters.user_calendar),
        Route("/rosters/{roster_id}/handoff/{handoff_id}", rosters.handoff_report),
        Route("/runbooks/{slug}", runbooks.runbook_page),
        Route("/incidents/{incident_id}", incidents.incident_page),
        Route("/api/v1/twilio/gather", twilio.gather, methods=["POST"]),
        Route("/api/v1/twilio/acknowledge", twilio.acknowledge, methods=["POST"]),
        Route("/api/v1/twilio/escalate", twilio.escalate, methods=["POST"]),
        Route("/api/v1/twilio/status", twilio.status, methods=["POST"]),
        Route("/api/v1/twilio/sms", twilio.sms, methods=["POST"]),
        Route("/api/v1/vonage/gather", vonage.gather, methods=["POST"]),
        Route("/api/v1/vonage/status", vonage.status, methods=["GET", "POST"]),
        Route("/api/v1/vonage/sms", vonage.sms, methods=["GET", "POST"]),
        Route("/api/v1/slack/commands", slack.slash_command, methods=["POST"]),
        Route("/api/v1/slack/interactions", slack.interaction, methods=["POST"]),
        Route("/api/v1/slack/events", slack.event, methods=["POST"]),
        Route("/api/v1/slack/oauth/install", slack.oauth_install),
        Route("/api/v1/slack/oauth/callback", slack.oauth_callback),
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
    ]
    return GuardedStarlette(
        routes=routes,
        middleware=[
            Middleware(MetricsMiddleware),
            Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes),
        ],
        exception_handlers={
            OpsWatchError: _opswatch_error,
            **dict.fromkeys(failures.DATABASE_ERRORS, failures.database_failure),
            Exception: failures.answer,
        },
        lifespan=lifespan,
    )


class GuardedStarlette(Starlette):
    """Starlette with ``LastResortGuard`` outside its own error middleware."""

    def build_middleware_stack(self) -> ASGIApp:
        return failures.LastResortGuard(super().build_middleware_stack())


async def _opswatch_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, OpsWatchError)
    return JSONResponse({"error": error.as_dict()}, status_code=error.http_status)
