"""The report: Markdown tables on stdout, the targets met or missed."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import noisy_report
from .base import (
    BASELINE_SHARE,
    EMBEDDED_TARGET,
    KEEP_UP_ACCEPTED,
    LATENCY_TARGET_MS,
    LATENCY_TARGET_RATE,
    REPO,
    STORM_TARGET,
    SUSTAINED_TARGET,
)
from .phases import SEGMENTS


def revision() -> str:
    """The commit measured, and whether the code differed from it."""
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            [
                "git",
                "-C",
                str(REPO),
                "status",
                "--porcelain",
                "--",
                "opswatch",
                "tasks",
                "resolvers",
                "schema",
                "pyproject.toml",
                "constraints.txt",
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        # A snapshot outside git (``git archive COMMIT | tar -x``) says which it is.
        return os.environ.get("BENCH_COMMIT", "unknown") + " (snapshot, not a git checkout)"
    return head + (" with uncommitted changes to the application" if dirty else "")


def machine(pg: str | None, redis: str | None) -> dict[str, str]:
    model = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = "?"
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return {
        "cores": str(os.cpu_count()),
        "cpu": model,
        "memory": memory,
        "python": platform.python_version(),
        "postgresql": pg or "-",
        "redis": redis or "-",
        "kernel": platform.release(),
        "commit": revision(),
    }


def fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _measured_phases(report: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Each phase that produced figures, by shape in reporting order."""
    for shape in ("baseline", "embedded", "production"):
        phases = report["shapes"].get(shape)
        if not isinstance(phases, dict) or "error" in phases:
            continue
        for phase, figures in phases.items():
            if isinstance(figures, dict) and "load" in figures:
                yield shape, phase, figures


def results_table(report: dict[str, Any]) -> list[str]:
    lines = [
        "| shape | phase | load | sent | 202 | accepted/s | 202 p50 / p99 ms | stored "
        "| processed/s during load | processed/s first request to last processed "
        "| drain s | check |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for shape, phase, f in _measured_phases(report):
        load = f["load"]
        if load.get("offered_per_s"):
            how = f"open loop {fmt(f.get('rate'))}/s (sent {fmt(load['offered_per_s'])}/s)"
        else:
            how = f"closed loop, {report['concurrency']} conns"
        check = ""
        if "exact" in f:
            check = f"occurrences {fmt(f['occurrences'])}: exact {fmt(f['exact'])}"
        elif "latency_p99_ms" in f:
            check = (
                f"webhook to subscriber p50 {fmt(f['latency_p50_ms'], 1)} ms, "
                f"p99 {fmt(f['latency_p99_ms'], 1)} ms, max {fmt(f['latency_max_ms'], 1)}"
                f" ms, missing {fmt(f['missing'])}"
            )
        elif "kept_up" in f:
            check = f"kept up: {fmt(f['kept_up'])}, max backlog {fmt(f['max_backlog'])}"
        elif "occurrences" in f:
            check = f"occurrences {fmt(f['occurrences'])}"
        if load["other"]:
            check += f"; other answers {load['other']}"
        lines.append(
            f"| {shape} | {phase} | {how} | {fmt(load['sent'])} | {fmt(load['accepted'])} "
            f"| {fmt(f['accepted_per_s'])} "
            f"| {fmt(load['p50_ms'], 1)} / {fmt(load['p99_ms'], 1)} "
            f"| {fmt(f.get('stored_events'))} "
            f"| {fmt(f.get('processed_during_load_per_s'))} "
            f"| {fmt(f.get('processed_per_s'))} "
            f"| {fmt(f.get('drain_s'), 1)} | {check} |"
        )
    return lines


def segments_table(report: dict[str, Any]) -> list[str]:
    lines = [
        "| shape | step | what | p50 ms | p99 ms |",
        "|---|---|---|---|---|",
    ]
    for shape in ("embedded", "production"):
        value = report["shapes"].get(shape)
        latency = value.get("latency") if isinstance(value, dict) else None
        if not isinstance(latency, dict):
            continue
        lines.append(
            f"| {shape} | POST to delivered | the whole path "
            f"| {fmt(latency['latency_p50_ms'], 1)} | {fmt(latency['latency_p99_ms'], 1)} |"
        )
        for name, what in SEGMENTS:
            got = latency.get("segments_ms", {}).get(name)
            if got:
                lines.append(
                    f"| {shape} | {name} | {what} | {fmt(got['p50'], 1)} | {fmt(got['p99'], 1)} |"
                )
    return lines


def cpu_table(report: dict[str, Any]) -> list[str]:
    lines = [
        f"| shape | phase | window | cores used per component (of {os.cpu_count()}) "
        "| speed check ms |",
        "|---|---|---|---|---|",
    ]
    for shape, phase, f in _measured_phases(report):
        for window in ("load", "drain"):
            cores = f.get(f"cpu_cores_{window}")
            if not cores:
                continue
            parts = ", ".join(f"{name} {value:.2f}" for name, value in cores.items())
            speed = fmt(f.get("speed_check_ms"), 1) if window == "load" else ""
            lines.append(f"| {shape} | {phase} | {window} | {parts} | {speed} |")
    return lines


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    shapes = report["shapes"]
    rows: list[dict[str, Any]] = []

    def phase(shape: str, name: str) -> dict[str, Any] | None:
        value = shapes.get(shape, {})
        found = value.get(name) if isinstance(value, dict) else None
        return found if isinstance(found, dict) and "load" in found else None

    baseline = phase("baseline", "insert")
    for shape in ("production", "embedded"):
        burst = phase(shape, "burst")
        if baseline and burst:
            need = BASELINE_SHARE * baseline["accepted_per_s"]
            rows.append(
                {
                    "target": "accepted (durable) alerts/s >= 50% of the one-INSERT baseline",
                    "shape": shape,
                    "needed": f">= {need:,.0f}/s (baseline {baseline['accepted_per_s']:,.0f}/s)",
                    "measured": f"{burst['accepted_per_s']:,.0f}/s "
                    f"({burst['accepted_per_s'] / baseline['accepted_per_s']:.0%})",
                    "met": burst["accepted_per_s"] >= need,
                }
            )
    sustained = phase("production", "sustained")
    if sustained:
        rows.append(
            {
                "target": f">= {SUSTAINED_TARGET:,.0f} distinct alerts/s fully processed, "
                "backlog draining",
                "shape": "production",
                "needed": f"{SUSTAINED_TARGET:,.0f}/s offered, kept up for 60 s",
                "measured": f"{sustained['rate']:,.0f}/s offered for {sustained['load_s']:.0f} s: "
                f"accepted {sustained['accepted_per_s']:,.0f}/s, processed "
                f"{sustained['processed_during_load_per_s']:,.0f}/s during load, drain "
                f"{sustained['drain_s']:.1f} s, max backlog {sustained['max_backlog']:,}",
                "met": bool(
                    sustained["kept_up"]
                    and sustained["rate"] >= SUSTAINED_TARGET
                    and sustained["load_s"] >= 59
                ),
                "note": "" if sustained["load_s"] >= 59 else "run with --duration 60 to claim it",
            }
        )
    for shape in ("production", "embedded"):
        storm = phase(shape, "storm")
        if storm:
            rate_met = (storm["load"]["offered_per_s"] or 0) >= KEEP_UP_ACCEPTED * STORM_TARGET
            rows.append(
                {
                    "target": f"one-fingerprint storm at {STORM_TARGET:,.0f} events/s, exact count",
                    "shape": shape,
                    "needed": f"{STORM_TARGET:,.0f}/s, occurrences == events answered 202",
                    "measured": f"sent {storm['load']['offered_per_s']:,.0f}/s, 202 "
                    f"{storm['load']['accepted']:,} (accepted {storm['accepted_per_s']:,.0f}/s),"
                    f" occurrences {storm['occurrences']:,}, drain {storm['drain_s']:.1f} s",
                    "met": bool(
                        storm["exact"]
                        and rate_met
                        and storm["load"]["accepted"] == storm["events"]
                        and storm["rate"] >= STORM_TARGET
                    ),
                }
            )
    for shape in ("production", "embedded"):
        latency = phase(shape, "latency")
        if latency:
            p99 = latency["latency_p99_ms"]
            rows.append(
                {
                    "target": f"webhook to subscriber p99 < {LATENCY_TARGET_MS:.0f} ms "
                    f"at {LATENCY_TARGET_RATE:.0f}/s",
                    "shape": shape,
                    "needed": f"p99 < {LATENCY_TARGET_MS:.0f} ms, none missing",
                    "measured": f"p50 {fmt(latency['latency_p50_ms'], 1)} ms, p99 "
                    f"{fmt(p99, 1)} ms at {latency['rate']:,.0f}/s, missing {latency['missing']}",
                    "met": bool(
                        p99 is not None
                        and p99 < LATENCY_TARGET_MS
                        and latency["missing"] == 0
                        and latency["rate"] >= LATENCY_TARGET_RATE
                    ),
                }
            )
    embedded = phase("embedded", "sustained")
    if embedded:
        rows.append(
            {
                "target": f"embedded shape >= {EMBEDDED_TARGET:,.0f} processed/s",
                "shape": "embedded",
                "needed": f"{EMBEDDED_TARGET:,.0f}/s offered, kept up",
                "measured": f"{embedded['rate']:,.0f}/s offered: accepted "
                f"{embedded['accepted_per_s']:,.0f}/s, processed "
                f"{embedded['processed_during_load_per_s']:,.0f}/s during load, drain "
                f"{embedded['drain_s']:.1f} s",
                "met": bool(embedded["kept_up"] and embedded["rate"] >= EMBEDDED_TARGET),
            }
        )
    return rows + noisy_report.target_row(report)


def log_lines(report: dict[str, Any]) -> list[str]:
    lines = []
    for shape, value in report["shapes"].items():
        if not isinstance(value, dict) or "log" not in value:
            continue
        for name, seen in value["log"].items():
            if not (seen["errors"] or seen["tracebacks"] or seen["retries"]):
                lines.append(f"- {shape} {name} log: no errors")
                continue
            messages = "; ".join(f"{m} (x{n})" for m, n in seen["exceptions"].items())
            lines.append(
                f"- {shape} {name} log: {seen['errors']} ERROR lines, {seen['tracebacks']} "
                f"tracebacks, {seen['retries']} retried jobs"
                + (f": {messages}" if messages else "")
            )
    return lines


def render(report: dict[str, Any]) -> str:
    m = report["machine"]
    out = [
        "## Machine",
        "",
        f"- {m['cores']} cores ({m['cpu']}), {m['memory']} memory, Linux {m['kernel']}",
        f"- Python {m['python']}, PostgreSQL {m['postgresql']}, Redis {m['redis']}",
        f"- load generator: {report['client']}, on the same cores as the servers",
        f"- commit: {m['commit']}",
        f"- command: `{report['command']}`",
        *(
            f"- {shape}: {value['processes']}"
            for shape, value in report["shapes"].items()
            if isinstance(value, dict) and "processes" in value
        ),
        *log_lines(report),
        "",
        "## Results",
        "",
        *results_table(report),
        "",
        "## Where the latency goes (latency phase)",
        "",
        *segments_table(report),
        "",
        "## CPU per component",
        "",
        *cpu_table(report),
        "",
        *noisy_report.tables(report),
        "",
        "## Targets",
        "",
        "| target | shape | needed | measured | met |",
        "|---|---|---|---|---|",
    ]
    for row in report["targets"]:
        note = f" ({row['note']})" if row.get("note") else ""
        out.append(
            f"| {row['target']} | {row['shape']} | {row['needed']} | {row['measured']}{note} "
            f"| {fmt(row['met'])} |"
        )
    failed = [s for s, v in report["shapes"].items() if isinstance(v, dict) and "error" in v]
    for shape in failed:
        out += ["", f"**{shape} did not run:** {report['shapes'][shape]['error']}"]
    return "\n".join(out) + "\n"
