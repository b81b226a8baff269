"""Figures per phase of the load, and the cleanup's progress over time."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ingest import (
    percentile,
)

from .base import SLOW_S
from .load import Sent, SteadyLoad
from .sampling import Progress


@dataclass
class PhaseSpan:
    name: str
    start: float  # time.monotonic()
    end: float = 0.0

    @property
    def seconds(self) -> float:
        return self.end - self.start


def ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


def phase_figures(
    span: PhaseSpan,
    sent: Sequence[Sent],
    load: SteadyLoad,
    inbox: dict[str, tuple[float, float | None]],
    cores: dict[str, float],
    server: dict[str, int],
) -> dict[str, Any]:
    mine = [(index, s) for index, s in enumerate(sent) if span.start <= s.at < span.end]
    statuses = Counter(s.status for _, s in mine)
    accepted = [(index, s) for index, s in mine if s.status == "202"]
    answers = [s.answer_s for _, s in mine if s.answer_s is not None]
    processed: list[float] = []
    received_to_processed: list[float] = []
    unprocessed = 0
    for index, s in accepted:
        stamps = inbox.get(load.fingerprint(index))
        if stamps is None or stamps[1] is None:
            unprocessed += 1
            continue
        processed.append(stamps[1] - s.wall)
        received_to_processed.append(stamps[1] - stamps[0])
    seconds = span.seconds
    # Per second of the phase (by send time): requests, slow answers, the slowest.
    series: dict[int, list[float]] = {}
    start_wall = mine[0][1].wall if mine else 0.0
    for _, s in mine:
        series.setdefault(int(s.wall - start_wall), []).append(s.answer_s or 0.0)
    slow_seconds = [
        {"second": second, "sent": len(answers), "slow": slow, "max_ms": ms(max(answers))}
        for second, answers in sorted(series.items())
        if (slow := sum(a > SLOW_S for a in answers))
    ]
    return {
        "phase": span.name,
        "seconds": round(seconds, 1),
        "sent": len(mine),
        "sent_per_s": round(len(mine) / seconds, 1) if seconds > 0 else None,
        "accepted": len(accepted),
        "accepted_per_s": round(len(accepted) / seconds, 1) if seconds > 0 else None,
        "other_statuses": {k: v for k, v in statuses.items() if k != "202"},
        "answer_p50_ms": ms(percentile(answers, 0.50)),
        "answer_p99_ms": ms(percentile(answers, 0.99)),
        "processed_p50_ms": ms(percentile(processed, 0.50)),
        "processed_p99_ms": ms(percentile(processed, 0.99)),
        "processed_max_ms": ms(max(processed) if processed else None),
        "received_to_processed_p50_ms": ms(percentile(received_to_processed, 0.50)),
        "received_to_processed_p99_ms": ms(percentile(received_to_processed, 0.99)),
        "unprocessed": unprocessed,
        "slow_answers": sum(x["slow"] for x in slow_seconds),
        "slow_seconds": slow_seconds,
        "cpu_cores": cores,
        **server,
    }


def crossing(progress: Sequence[Progress], table: str, base: int, target: float) -> float | None:
    """When the deletions from ``table`` (since ``base``) first reached ``target``."""
    for sample in progress:
        if sample.deleted.get(table, 0) - base >= target:
            return sample.at
    return None


def cleanup_progress(
    progress: Sequence[Progress], start: Progress, end: Progress, deleted_alerts: int
) -> dict[str, Any]:
    """Progress rows over the run, the stages' lengths and the alert rate early vs late."""
    window = [p for p in progress if start.at <= p.at <= end.at]

    def done(p: Progress) -> dict[str, Any]:
        return {
            "seconds": round(p.at - start.at, 1),
            "alerts": p.deleted.get("alert", 0) - start.deleted.get("alert", 0),
            "inbox_events": p.deleted.get("alert_event", 0) - start.deleted.get("alert_event", 0),
            "escalation_events": p.deleted.get("escalation_event", 0)
            - start.deleted.get("escalation_event", 0),
            "audit_archived": p.archived - start.archived,
            "backlog": p.backlog,
        }

    rows_at = sorted({round(i * (len(window) - 1) / 10) for i in range(11)})
    table: list[dict[str, Any]] = []
    for index in rows_at:
        row = done(window[index])
        if not table or row["seconds"] > table[-1]["seconds"]:
            table.append(row)
    base = start.deleted.get("alert", 0)

    def rate(low: float, high: float) -> float | None:
        if deleted_alerts <= 0:
            return None
        early = crossing(window, "alert", base, low * deleted_alerts)
        late = crossing(window, "alert", base, high * deleted_alerts)
        if early is None or late is None or late - early < 2.0:
            return None  # too few samples apart to say
        return round((high - low) * deleted_alerts / (late - early))

    def since_start(at: float | None) -> float | None:
        return None if at is None else round(at - start.at, 1)

    return {
        "rows": table,
        "alerts_begun_s": since_start(crossing(window, "alert", base, 1)),
        "alerts_done_s": since_start(
            crossing(window, "alert", base, deleted_alerts) if deleted_alerts else None
        ),
        "audit_begun_s": since_start(
            next((p.at for p in window if p.archived > start.archived), None)
        ),
        "alerts_per_s_5_to_25": rate(0.05, 0.25),
        "alerts_per_s_75_to_95": rate(0.75, 0.95),
    }
