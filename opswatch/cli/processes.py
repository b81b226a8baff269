"""Process commands: serve (embedded), api, worker, scheduler, and db upgrade."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import threading
from typing import Any

from opswatch import db
from opswatch.cli.output import CommandError, connected, run_with_database
from opswatch.config import Settings, load_settings
from opswatch.gc_tuning import tune_for_server
from opswatch.logs import configure_logging, uvicorn_log_config
from opswatch.metrics import registry

log = logging.getLogger("opswatch")

# uvicorn's WebSocket protocol, changed so that a lost connection is freed at once
# (opswatch/http/websockets.py says why).
WS_PROTOCOL = "opswatch.http.websockets:ReleasingWebSocketProtocol"


def add_commands(commands: Any) -> None:
    serve = commands.add_parser("serve", help="everything in one process (embedded shape)")
    _listen_flags(serve)
    serve.add_argument("--demo", action="store_true", help="seed and print the demo tenant")
    _access_log_flag(serve, default=True)
    serve.set_defaults(handler=serve_command)

    api = commands.add_parser("api", help="the HTTP/GraphQL API (production shape)")
    _listen_flags(api)
    api.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    # Off by default in production: a log line per webhook costs about a tenth of
    # the API's CPU at a few thousand alerts/s, and /metrics counts every request
    # by route and status anyway.
    _access_log_flag(api, default=False)
    api.set_defaults(handler=api_command)

    worker = commands.add_parser("worker", help="run background jobs from Redis")
    worker.add_argument(
        "--threads", type=int, default=8, help="concurrent jobs of the queues other than ingest"
    )
    worker.add_argument(
        "--ingest-threads",
        type=int,
        default=2,
        help="concurrent jobs of the ingest queue, which no other job can take",
    )
    worker.add_argument("--queues", nargs="*", help="only these queues")
    worker.add_argument(
        "--max-poll-ms",
        type=int,
        default=10,
        help="longest wait between polls of the idle ingest queue (other queues: 100)",
    )
    worker.set_defaults(handler=worker_command)

    scheduler = commands.add_parser("scheduler", help="enqueue periodic ticks (safe with two)")
    scheduler.set_defaults(handler=scheduler_command)

    database = commands.add_parser("db", help="database").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    upgrade = database.add_parser("upgrade", help="apply pending migrations")
    upgrade.set_defaults(handler=db_upgrade_command)

    metrics = commands.add_parser("metrics", help="/metrics across processes").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    reset = metrics.add_parser(
        "reset", help="empty PROMETHEUS_MULTIPROC_DIR before the processes of a deployment start"
    )
    reset.set_defaults(handler=metrics_reset_command)


def _listen_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="default: OPSWATCH_HOST or 127.0.0.1")
    parser.add_argument("--port", type=int, help="default: OPSWATCH_PORT or 8000")


def _access_log_flag(parser: argparse.ArgumentParser, *, default: bool) -> None:
    parser.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=default,
        help="log one line per HTTP request",
    )


def _upgrade(settings: Settings) -> list[str]:
    try:
        return asyncio.run(db.upgrade(settings.database_url))
    except db.DatabaseUnavailable as error:
        raise CommandError(str(error), exit_code=1) from None


def db_upgrade_command(args: argparse.Namespace) -> int:
    settings = load_settings()
    applied = _upgrade(settings)
    where = db.describe(settings.database_url)
    if applied:
        print(f"applied {len(applied)} migration(s) to {where}: {', '.join(applied)}")
    else:
        print(f"database {where} was already up to date; nothing applied")
    return 0


def metrics_reset_command(args: argparse.Namespace) -> int:
    path = registry.multiprocess_dir()
    if path is None:
        raise CommandError(f"{registry.ENV} is not set: each process serves its own metrics")
    print(f"removed {registry.wipe(path)} sample file(s) from {path}")
    return 0


def _listening_settings(args: argparse.Namespace) -> Settings:
    """Settings with ``--host``/``--port`` taking the place of OPSWATCH_HOST/PORT, also in
    the environment: uvicorn imports the app, which reads its settings from there, and
    links must name the port actually served when OPSWATCH_PUBLIC_URL is unset."""
    if args.host:
        os.environ["OPSWATCH_HOST"] = args.host
    if args.port:
        os.environ["OPSWATCH_PORT"] = str(args.port)
    settings = load_settings()
    configure_logging(settings)
    if not settings.public_url_configured:
        logging.getLogger("opswatch").info(
            "links point to %s; set OPSWATCH_PUBLIC_URL when others reach OpsWatch elsewhere",
            settings.public_url,
        )
    return settings


def serve_command(args: argparse.Namespace) -> int:
    import uvicorn

    settings = _listening_settings(args)
    multiproc = registry.multiprocess_dir()
    if multiproc is not None:  # the one process of the embedded shape: nothing else counts
        registry.wipe(multiproc)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    _upgrade(settings)
    host, port = settings.host, settings.port
    if args.demo:
        from opswatch.demo import banner, seed_demo

        async def seed(current: Settings) -> Any:
            return await seed_demo(current.data_dir)

        credentials = run_with_database(seed)
        print(banner(credentials, settings.public_url, serving=True), flush=True)
    uvicorn.run(
        "opswatch.http.asgi:app",
        host=host,
        port=port,
        log_level="info",
        log_config=uvicorn_log_config(settings),
        access_log=args.access_log,
        ws=WS_PROTOCOL,
    )
    return 0


def api_command(args: argparse.Namespace) -> int:
    import uvicorn

    settings = _listening_settings(args)
    registry.forget_earlier_incarnations()
    uvicorn.run(
        "opswatch.http.asgi:app",
        host=settings.host,
        port=settings.port,
        workers=args.workers,
        proxy_headers=True,
        log_level="info",
        log_config=uvicorn_log_config(settings),
        access_log=args.access_log,
        ws=WS_PROTOCOL,
    )
    registry.process_ended()
    return 0


IDLE_POLL_MS = 100
STOP_GRACE_MS = 20_000  # inside Kubernetes' default 30 s termination grace


def worker_command(args: argparse.Namespace) -> int:
    from tasks.broker import WorkerBootFailed, build_broker, build_workers

    settings = load_settings()
    configure_logging(settings)
    registry.forget_earlier_incarnations()
    if settings.redis_url is None:
        raise CommandError("OPSWATCH_REDIS_URL: the worker needs Redis (serve runs jobs itself)")
    # An idle Redis consumer backs off up to a timeout between polls; at
    # Dramatiq's 1 s default, the first alert after a quiet spell could wait a
    # second before anyone starts processing it. The ingest queue is polled at
    # most --max-poll-ms apart (an alert waits half of it on average); the other
    # queues, and the worker threads waiting for work, wake every IDLE_POLL_MS.
    broker = build_broker(settings, ingest_poll_ms=max(1, args.max_poll_ms))
    # Ingest has threads of its own: paging jobs waiting on a slow provider cannot
    # hold the threads alerts need (tasks.broker).
    workers = build_workers(
        broker,
        threads=args.threads,
        ingest_threads=max(1, args.ingest_threads),
        queues=args.queues,
        worker_timeout=IDLE_POLL_MS,
    )
    if not workers:
        raise CommandError("--queues: none of these queues has a job")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    started = []
    try:
        for worker in workers:
            started.append(worker)
            worker.start()  # the first connects the database before any job is taken
    except WorkerBootFailed as error:
        _stop_all(started)  # ends the event loop the boot started
        broker.close()
        raise CommandError(str(error), exit_code=1) from None
    tune_for_server()  # after the boot (database, runtime), so what it built is frozen
    for worker in workers:
        log.info(
            "worker running %s on %d threads",
            ", ".join(sorted(worker.consumer_whitelist or ())),
            worker.worker_threads,
        )
    stop.wait()
    log.info("worker stopping")
    _stop_all(workers)
    broker.close()
    registry.process_ended()
    return 0


def _stop_all(workers: list[Any]) -> None:
    """Stop the workers together, so that the grace period is not spent twice. Jobs in
    flight get STOP_GRACE_MS to finish; any still running are delivered again (every
    job is safe to run twice), as after a crash."""
    stopping = [
        threading.Thread(target=worker.stop, kwargs={"timeout": STOP_GRACE_MS})
        for worker in workers
    ]
    for thread in stopping:
        thread.start()
    for thread in stopping:
        thread.join()


def scheduler_command(args: argparse.Namespace) -> int:
    from tasks.scheduler import Scheduler

    settings = load_settings()
    configure_logging(settings)

    async def main() -> None:
        async with connected(settings):
            scheduler = Scheduler()
            log.info("scheduler %s started", scheduler.holder)
            await scheduler.run_forever()

    asyncio.run(main())
    return 0
