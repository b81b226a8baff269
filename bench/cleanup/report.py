"""The report: one Markdown section."""

from __future__ import annotations

from typing import Any

from .base import SLOW_S


def number(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}"


def plan_line(plan: dict[str, Any]) -> str:
    scans = "; ".join(plan["scans"]) or "(no scan)"
    triggers = ", ".join(
        f"{t['constraint']} {t['ms']:,.1f} ms / {t['calls']:,} calls" for t in plan["triggers"]
    )
    return (
        f"| {plan['statement']} | {scans} | {triggers or '-'} | {plan['buffers'] or '-'} "
        f"| {number(plan['ms'], 1)} |"
    )


def render(report: dict[str, Any]) -> str:
    m = report["machine"]
    s = report["seeding"]
    c = report["cleanup"]
    figures = c["report"] or {}
    settings = ", ".join(f"{k}={v}" for k, v in report["postgres_settings"].items())
    in_process = figures.get("seconds")
    startup = c["wall_s"] - in_process if in_process is not None else None
    stages = c["progress"]
    seeded = report["seeded"]
    out = [
        "## Data retention",
        "",
        f"- machine: {m['nproc']} CPUs (nproc), {m['cpu']}, {m['memory']} memory",
        f"- Python {m['python']}, PostgreSQL {m['postgresql']} ({settings}), Redis {m['redis']}",
        f"- commit: {m['commit']}; opswatch/audit/cleanup.py sha256 "
        f"{report['cleanup_py_sha256']}; migrations up to {report['migrations'][-1]}",
        f"- command: `{report['command']}`",
        f"- as-of {report['as_of']}; tenant retention: 90 days of alerts, 365 days of audit",
        f"- speed check (bench/ingest's fixed Python loop, before the servers started): "
        f"{report['speed_check_ms']:,.0f} ms",
        f"- processes: {report['processes']}; `opswatch cleanup` as a subprocess; load: this "
        f"process (asyncio client) posting distinct alerts at {report['load']['rate']:g}/s, "
        "**on the same cores**",
        "",
        "### Seeded",
        "",
        f"{seeded['old']['count']:,} old resolved alerts (go), {seeded['in_incident']['count']:,} "
        f"old in an incident, {seeded['recent']['count']:,} recent resolved and "
        f"{seeded['firing']['count']:,} firing (stay); one inbox event each, an escalation "
        f"event for every fifth; {seeded['orphans_old']['count']:,} / "
        f"{seeded['orphans_recent']['count']:,} old / recent inbox events without an alert, "
        f"{seeded['notices_old']['count']:,} / {seeded['notices_recent']['count']:,} notices, "
        f"{seeded['audit_old']['count']:,} / {seeded['audit_recent']['count']:,} audit entries.",
        "",
        "| step | rows | seconds |",
        "|---|---:|---:|",
    ]
    out += [f"| {x['step']} | {x['rows']:,} | {x['seconds']:,.1f} |" for x in s["steps"]]
    out += [
        f"| **all seeding** | **{s['rows']:,}** | **{s['seconds']:,.1f}** |",
        f"| VACUUM (ANALYZE) | | {s['vacuum_analyze_s']:,.1f} |",
        f"| CHECKPOINT | | {number(s['checkpoint_s'], 1)} |",
        "",
        "Sizes after seeding (MiB, with indexes): "
        + ", ".join(f"{k} {v:,}" for k, v in s["table_mib"].items()),
        "",
        "### Cleanup",
        "",
        "| figure | value |",
        "|---|---:|",
        f"| wall time of `opswatch cleanup` (start to exit) | **{number(c['wall_s'], 1)} s** |",
        f"| its report's `seconds` (in-process, the tenant's work) "
        f"| {number(figures.get('seconds'), 1)} s |",
        f"| the rest: interpreter, imports, connecting, runtime | {number(startup, 1)} s |",
        f"| deleted alerts | {number(figures.get('deleted_alerts'))} |",
        f"| deleted escalation events | {number(figures.get('deleted_escalation_events'))} |",
        f"| deleted inbox events | {number(figures.get('deleted_inbox_events'))} |",
        f"| deleted notices | {number(figures.get('deleted_notifications'))} |",
        f"| archived audit entries | {number(figures.get('archived_audit_entries'))} |",
        f"| kept for incidents | {number(figures.get('kept_for_incidents'))} |",
        f"| rows removed per second (all tables, wall time) | {number(c['rows_per_s'])} |",
        f"| alerts deleted per second (wall time) | {number(c['alerts_per_s'])} |",
        f"| alerts/s between 5% and 25% of them "
        f"| {number(c['progress']['alerts_per_s_5_to_25'])} |",
        f"| alerts/s between 75% and 95% of them | "
        f"{number(c['progress']['alerts_per_s_75_to_95'])} |",
        f"| first / last alert deleted after (sampled) "
        f"| {number(stages['alerts_begun_s'], 1)} / {number(stages['alerts_done_s'], 1)} s |",
        f"| first audit entry archived after (sampled) | {number(stages['audit_begun_s'], 1)} s |",
        "",
        "Progress (from `pg_stat_user_tables`, sampled every second):",
        "",
        "| s | alerts | inbox events | escalation events | audit archived | inbox backlog |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    out += [
        f"| {r['seconds']:,.1f} | {r['alerts']:,} | {r['inbox_events']:,} "
        f"| {r['escalation_events']:,} | {r['audit_archived']:,} | {r['backlog']:,} |"
        for r in c["progress"]["rows"]
    ]
    out += [
        "",
        "### Ingest before, during and after",
        "",
        "| phase | s | sent/s | 202 | accepted/s | 202 answer p50 / p99 ms "
        "| POST → processed p50 / p99 / max ms | received → processed p50 / p99 ms "
        "| not processed | checkpoints |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in report["phases"]:
        if p["phase"] == "idle":
            continue
        others = ", ".join(f"{k} {v:,}" for k, v in p["other_statuses"].items())
        out.append(
            f"| {p['phase']} | {p['seconds']:,.1f} | {number(p['sent_per_s'], 1)} "
            f"| {p['accepted']:,}{f' ({others})' if others else ''} "
            f"| **{number(p['accepted_per_s'], 1)}** "
            f"| {number(p['answer_p50_ms'], 1)} / {number(p['answer_p99_ms'], 1)} "
            f"| {number(p['processed_p50_ms'], 1)} / **{number(p['processed_p99_ms'], 1)}** "
            f"/ {number(p['processed_max_ms'], 1)} "
            f"| {number(p['received_to_processed_p50_ms'], 1)} / "
            f"{number(p['received_to_processed_p99_ms'], 1)} | {p['unprocessed']:,} "
            f"| {number(p.get('checkpoints'))} |"
        )
    load = report["load"]
    out += [
        "",
        f"{load['sent']:,} requests in all, {load['accepted']:,} answered 202, "
        f"{load['skipped']:,} sends skipped (sender over a second behind); backlog drained "
        f"{number(load['drained_after_s'], 1)} s after the load stopped.",
        "",
        f"202 answers slower than {SLOW_S * 1000:,.0f} ms, by second of the phase "
        "(second: slow of sent, slowest ms): "
        + "; ".join(
            f"{p['phase']} {p['slow_answers']:,}"
            + (
                " ("
                + ", ".join(
                    f"{x['second']}: {x['slow']}/{x['sent']}, {x['max_ms']:,.0f}"
                    for x in p["slow_seconds"][:8]
                )
                + (", ..." if len(p["slow_seconds"]) > 8 else "")
                + ")"
                if p["slow_seconds"]
                else ""
            )
            for p in report["phases"]
            if p["phase"] != "idle"
        ),
        "",
        "CPU, in cores (2 = the whole machine):",
        "",
    ]
    components = sorted({k for p in report["phases"] for k in p["cpu_cores"]})
    out += [
        "| component | " + " | ".join(p["phase"] for p in report["phases"]) + " |",
        "|---|" + "---:|" * len(report["phases"]),
    ]
    for component in components:
        values = " | ".join(
            f"{p['cpu_cores'][component]:.2f}" if component in p["cpu_cores"] else "-"
            for p in report["phases"]
        )
        out.append(f"| {component} | {values} |")
    out += [
        "",
        "### Plans (EXPLAIN ANALYZE, BUFFERS; one batch of 1,000, rolled back)",
        "",
        "| statement | scans | FK triggers | buffers | ms |",
        "|---|---|---|---|---:|",
    ]
    out += [plan_line(p) for p in report["plans_before"] + report["plans_after"]]
    out += ["", "### Checks", "", "| check | expected | found | |", "|---|---:|---:|---|"]
    out += [
        f"| {x['name']} | {x['expected']:,} | {number(x['found'])} "
        f"| {'ok' if x['ok'] else '**FAILED**'} |"
        for x in report["checks"]
    ]
    logs = report["log"]
    noisy = {
        name: {k: v for k, v in found.items() if v and k != "exceptions"}
        for name, found in logs.items()
    }
    out += [
        "",
        "Server logs: "
        + "; ".join(
            f"{name} " + (", ".join(f"{k} {v}" for k, v in counts.items()) or "clean")
            for name, counts in noisy.items()
        ),
    ]
    if report["failed_checks"]:
        out += ["", "**Failed:** " + "; ".join(report["failed_checks"])]
    else:
        out += ["", "Every check passed."]
    return "\n".join(out) + "\n"
