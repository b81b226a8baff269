"""The report: the checks, and one Markdown section with a table per database."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def first_tier_problems(path: str, f: Mapping[str, Any]) -> list[str]:
    final = f["after_window"] or f["at_once"]
    problems = []
    if final["other"]:
        statuses = ", ".join(f"{name} {count:,}" for name, count in final["statuses"].items())
        problems.append(
            f"{path}, first tier: {final['other']:,} events neither handed over nor waiting "
            f"({statuses})"
        )
    if f["after_window"] is not None and final["waiting"]:
        problems.append(
            f"{path}, first tier: {final['waiting']:,} events still pending after the window"
        )
    if f["failed_jobs"]:
        problems.append(f"{path}, first tier: {f['failed_jobs']:,} jobs failed for good")
    return problems


def lateness_problems(path: str, late: Mapping[str, Any]) -> list[str]:
    phase = f"{path}, tick {late['tick_s']:g} s"
    problems = []
    if late["stepped"] < late["alerts"]:
        problems.append(f"{phase}: {late['alerts'] - late['stepped']:,} alerts never stepped")
    if late["early"]:
        problems.append(f"{phase}: {late['early']:,} alerts stepped before they were due")
    if late["failed_jobs"]:
        problems.append(f"{phase}: {late['failed_jobs']:,} jobs failed for good")
    return problems


def problems_of(runs: list[dict[str, Any]]) -> list[str]:
    found = []
    for run in runs:
        found += first_tier_problems(run["path"], run["first_tier"])
        for late in run["lateness"]:
            found += lateness_problems(run["path"], late)
    return found


def secs(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.3f} s"


def number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def calls_text(handover: Mapping[str, Any]) -> str:
    return f"{handover['calls']:,} / {handover['messages']:,}"


def retried_text(phase: Mapping[str, Any]) -> str:
    if not phase["retried_jobs"]:
        return "0"
    # The first error, without the pipes that would end a Markdown cell.
    first = phase["retry_messages"][0].replace("|", "/")
    return f"{phase['retried_jobs']:,} (first: {first})"


def spread_text(spread: Mapping[str, float] | None) -> str:
    if spread is None:
        return "n/a"
    return f"{secs(spread['p50_s'])} / {secs(spread['p99_s'])} / {secs(spread['max_s'])}"


def every_handed_over(f: Mapping[str, Any]) -> str:
    """T0 until the last tier-1 event was handed over, if every one was."""
    final = f["after_window"] or f["at_once"]
    if final["waiting"] == 0 and final["other"] == 0:
        return secs(final["last_s"])
    if f["after_window"] is None:
        return "not waited for (--no-throttle-wait)"
    return f"never: {final['waiting']:,} pending, {final['other']:,} other"


def first_tier_rows(f: Mapping[str, Any]) -> list[tuple[str, str]]:
    at_once, after = f["at_once"], f["after_window"]
    final = after or at_once
    per_s = at_once["handed_over"] / at_once["last_s"] if at_once["last_s"] else None
    rows = [
        ("alerts due at T0", f"{f['alerts']:,}"),
        ("tier-1 events recorded (per alert: its person on PHONE and on SMS)", f"{f['events']:,}"),
        ("T0 → `run_due(T0)` returned (every event recorded)", secs(f["engine_s"])),
        ("T0 → deliver jobs drained (throttled ones left waiting)", secs(f["drained_s"])),
        (
            "events handed over by then (queued, sent, or folded as throttled)",
            f"{at_once['handed_over']:,} of {f['events']:,}",
        ),
        ("T0 → handed over, p50 / p99 / max of those", spread_text(at_once["spread"])),
        ("those events per second (count / T0 → last of them)", number(per_s)),
        ("calls / SMS received by the fake by then", calls_text(at_once)),
        ("events waiting for their person's throttle window", f"{at_once['waiting']:,}"),
        ("**T0 → every tier-1 event handed over**", every_handed_over(f)),
    ]
    if after is not None:
        rows.append(("calls / SMS received by the fake in all", calls_text(after)))
    statuses = ", ".join(f"{name} {count:,}" for name, count in final["statuses"].items())
    return [
        *rows,
        ("events neither handed over nor waiting (must be 0)", f"{final['other']:,}"),
        ("event statuses at the end", statuses),
        ("job runs failed and retried", retried_text(f)),
        ("jobs failed for good", f"{f['failed_jobs']:,}"),
    ]


def lateness_rows(late: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [
        ("alerts stepped to tier 2", f"{late['stepped']:,} of {late['alerts']:,}"),
        ("ticks / longest tick", f"{late['ticks']:,} / {secs(late['longest_tick_s'])}"),
        ("lateness recorded, p50 / p99 / max", spread_text(late["recorded"])),
        ("lateness published, p50 / p99 / max", spread_text(late["published"])),
        ("stepped before due (must be 0)", f"{late['early']:,}"),
        ("job runs failed and retried", retried_text(late)),
        ("jobs failed for good", f"{late['failed_jobs']:,}"),
    ]


def database_table(run: Mapping[str, Any]) -> list[str]:
    rows = [("set-up", "people, rosters, policies, services and alerts", secs(run["setup_s"]))]
    rows += [("first tier", figure, value) for figure, value in first_tier_rows(run["first_tier"])]
    for late in run["lateness"]:
        phase = f"lateness, tick {late['tick_s']:g} s"
        rows += [(phase, figure, value) for figure, value in lateness_rows(late)]
    out = [f"### {run['path']}", "", "| phase | figure | value |", "|---|---|---:|"]
    out += [f"| {phase} | {figure} | {value} |" for phase, figure, value in rows]
    return [*out, ""]


def render(report: Mapping[str, Any]) -> str:
    m = report["machine"]
    ticks = ", ".join(f"{t:g} s" for t in report["ticks_s"])
    out = [
        "## Escalation engine",
        "",
        f"- machine: {m['nproc']} CPUs (nproc), {m['cpu']}, {m['memory']} memory",
        f"- Python {m['python']}, PostgreSQL {m['postgresql']}",
        f"- commit: {m['commit']}",
        f"- command: `{report['command']}`",
        f"- {report['people']} people, each with a roster, a two-tier policy (PHONE + SMS) and "
        f"a service; {report['alerts']} firing alerts spread evenly over the services; "
        "embedded shape (in-process queue and bus), Twilio = the test suite's fake over HTTP "
        "through the real SDK",
        "- first tier: every alert due at T0, `run_due(T0)` then the deliver jobs; "
        "handed over = status queued, sent or throttled (folded into a summary)",
        f"- lateness: tier 2 due at instants spread over {report['spread_s']:g} s, "
        f"`run_due()` every {ticks}; recorded = event `created_at` (the tick's start) - due, "
        "published = ESCALATED live event published (after the batch's commit) - due",
        "",
    ]
    for run in report["runs"]:
        out += database_table(run)
    if report["problems"]:
        out += ["**Failed checks:**", ""] + [f"- {problem}" for problem in report["problems"]]
    else:
        out.append("Every check passed.")
    return "\n".join(out) + "\n"
