"""Job registry: async functions known by a namespaced name, e.g. ``alerts.process_events``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

JobFunction = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class JobSpec:
    name: str
    fn: JobFunction
    queue_name: str
    max_retries: int
    min_backoff_ms: int
    max_backoff_ms: int
    time_limit_ms: int


_JOBS: dict[str, JobSpec] = {}


def job(
    name: str,
    *,
    queue_name: str = "default",
    max_retries: int = 10,
    min_backoff_ms: int = 500,
    max_backoff_ms: int = 60_000,
    time_limit_ms: int = 120_000,
) -> Callable[[JobFunction], JobFunction]:
    """Register an async function as a job. Jobs must be safe to run twice:
    every queue here delivers at least once."""

    def register(fn: JobFunction) -> JobFunction:
        if name in _JOBS and _JOBS[name].fn is not fn:
            raise ValueError(f"job {name!r} is registered twice")
        _JOBS[name] = JobSpec(
            name=name,
            fn=fn,
            queue_name=queue_name,
            max_retries=max_retries,
            min_backoff_ms=min_backoff_ms,
            max_backoff_ms=max_backoff_ms,
            time_limit_ms=time_limit_ms,
        )
        return fn

    return register


def registered_jobs() -> dict[str, JobSpec]:
    import tasks  # noqa: F401  (importing the package registers every job)

    return dict(_JOBS)


def get_job(name: str) -> JobSpec:
    jobs = registered_jobs()
    if name not in jobs:
        raise KeyError(f"no job named {name!r}")
    return jobs[name]
