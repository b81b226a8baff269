"""A real ``opswatch worker`` subprocess taking jobs from Redis, for tests of the
production shape: this process enqueues to it, the worker does the work."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from opswatch import runtime
from opswatch.config import load_settings
from opswatch.events.memory import MemoryEventBus
from opswatch.runtime import Runtime
from tasks.broker import DramatiqQueue, build_broker
from tests.conftest import require_redis


@contextlib.asynccontextmanager
async def production_worker(
    test_env: dict[str, str],
    app_runtime: Runtime,
    extra_env: dict[str, str] | None = None,
    threads: int = 4,
) -> AsyncIterator[Runtime]:
    """Starts the worker (on a Redis namespace of its own) and installs a runtime that
    enqueues to it; on the way out, stops both and checks the worker exited cleanly."""
    env = {
        **test_env,
        "OPSWATCH_REDIS_URL": require_redis(),
        "OPSWATCH_REDIS_NAMESPACE": f"opswatch-test-{uuid.uuid4().hex[:8]}",
        **(extra_env or {}),
    }
    broker = build_broker(load_settings(env))
    production = Runtime(
        load_settings(env), app_runtime.secret_box, DramatiqQueue(broker), MemoryEventBus()
    )
    runtime.install(production)
    worker = subprocess.Popen(
        [str(Path(sys.executable).parent / "opswatch"), "worker", "--threads", str(threads)],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = ""
    try:
        yield production
    finally:
        runtime.install(app_runtime)
        worker.terminate()
        output, _ = worker.communicate(timeout=30)
        broker.flush_all()
        await production.queue.stop()
        # Shown with a failing test's captured output: what the worker did, or did not do.
        print(f"--- opswatch worker output (exit {worker.returncode}) ---\n{output}")
    assert worker.returncode == 0, output
