"""The report: one Markdown section, and the ten-year/one-day ratios."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import AT_ONE_DAY, AT_TEN_YEARS, POSTGRES, PURE, SQLITE
from .plans import CASES, DESIGNS
from .timing import Row


def number(value: float) -> str:
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def ratios(rows: list[Row]) -> dict[str, dict[str, float]]:
    """Mean latency at +10 years divided by the mean at +1 day, by plan and path."""
    mean = {(r.plan, r.path, r.case): r.mean_us for r in rows}
    found: dict[str, dict[str, float]] = {}
    for plan, path, case in mean:
        if case == AT_ONE_DAY and (plan, path, AT_TEN_YEARS) in mean:
            ratio = mean[plan, path, AT_TEN_YEARS] / mean[plan, path, AT_ONE_DAY]
            found.setdefault(plan, {})[path] = ratio
    return found


def ordered(rows: list[Row]) -> list[Row]:
    """Rows by plan and case, the paths of one case next to each other."""
    plans = [d.key for d in DESIGNS]
    cases = [c.label for c in CASES]
    paths = [PURE, SQLITE, POSTGRES]
    return sorted(
        rows, key=lambda r: (plans.index(r.plan), cases.index(r.case), paths.index(r.path))
    )


def render(report: Mapping[str, Any], rows: list[Row]) -> str:
    m = report["machine"]
    out = [
        "## On-call resolution",
        "",
        f"- machine: {m['nproc']} CPUs (nproc), {m['cpu']}, {m['memory']} memory",
        f"- Python {m['python']}, PostgreSQL {m['postgresql']}",
        f"- commit: {m['commit']}",
        f"- command: `{report['command']}`",
        f"- each case: {report['warmup_s']} s warm-up, then {report['seconds_s']} s of calls "
        "one after another; pure = `oncall_at` / `schedule` on an in-memory plan, "
        "SQLite / PostgreSQL = `shift_at` / `shifts_between` (load the plan, then compute); "
        "for schedules, lookups/s counts schedules",
        "",
        "| case | path | lookups/s | mean µs | p99 µs | shifts |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in ordered(rows):
        out.append(
            f"| {r.plan}, {r.case} | {r.path} | {r.per_s:,.0f} | {number(r.mean_us)} "
            f"| {number(r.p99_us)} | {r.shifts} |"
        )
    per_plan = [
        f"{plan} " + ", ".join(f"{path} {value:.2f}" for path, value in by_path.items())
        for plan, by_path in report["ratios"].items()
    ]
    out += ["", "Ten years / one day (mean latency, 1.00 = same cost): " + "; ".join(per_plan)]
    if report["different_answers"]:
        listed = ", ".join(report["different_answers"])
        out.append(f"\n**The database answers differ from the pure path's:** {listed}")
    elif any(r.path != PURE for r in rows):
        out.append("\nThe database paths gave the same shifts as the pure path in every case.")
    return "\n".join(out) + "\n"
