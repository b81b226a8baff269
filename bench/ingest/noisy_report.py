"""The noisy phase's part of the report: its tables and its target row."""

from __future__ import annotations

from typing import Any

from .noisy import B_TARGET_P99_MS


def fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def tables(report: dict[str, Any]) -> list[str]:
    """The noisy phase's section of the report (empty when it did not run)."""
    found = [
        (shape, value["noisy"])
        for shape, value in report["shapes"].items()
        if isinstance(value, dict) and isinstance(value.get("noisy"), dict)
    ]
    if not found:
        return []
    out = [
        "## Noisy neighbour",
        "",
        "| shape | A storm | A drain s | B window | B sent | p50 / p99 / max ms | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for shape, f in found:
        storm = f"{f['storm']['accepted']:,} of {f['storm']['sent']:,} in {f['storm_s']:.1f} s"
        for window, got in [("all", f["b_latency"]), *f["b_latency_windows"].items()]:
            met = ("yes" if f["b_p99_met"] else "NO") if window == "all" else ""
            out.append(
                f"| {shape} | {storm} | {f['a_drain_s']:.1f} | {window} | {got['count']:,} "
                f"| {fmt_ms(got['p50_ms'])} / {fmt_ms(got['p99_ms'])} / {fmt_ms(got['max_ms'])} "
                f"| {met} |"
            )
    out.append("")
    for shape, f in found:
        out += [
            f"- {shape}: provider {f['provider']}; B latency = {f['b_latency_by']}; B answers "
            f"{f['b_answers']}, not accepted {f['b_not_accepted']}, accepted but not processed "
            f"{f['b_missing']}, skipped {f['b_skipped']}",
            f"- {shape}: A alerts {f['a_alerts']:,}; tier 1 taken for all at "
            f"{f['a_tier_1_taken_at_s']} s (still waiting at the end: "
            f"{f['a_awaiting_tier_1_at_end']:,}); escalation_event by status "
            f"{f['escalation_events']}; delivery claims {f['delivery_claims']:,}; provider "
            f"requests {f['provider_requests']}; deadlocks {f['deadlocks_before']} -> "
            f"{f['deadlocks_after']}; speed check {f['speed_check_ms']} ms",
            *(
                f"- {shape}: PostgreSQL backends active, summed over the samples, {w}: "
                + ", ".join(f"{k} {n}" for k, n in waits.items())
                for w, waits in f.get("backend_waits", {}).items()
            ),
            *(
                f"- {shape}: B, {w}: POST to received_at p50/p99 "
                f"{fmt_ms(f['b_post_to_received'][w]['p50_ms'])}/"
                f"{fmt_ms(f['b_post_to_received'][w]['p99_ms'])} ms, received_at to "
                f"processed_at p50/p99 {fmt_ms(f['b_received_to_processed'][w]['p50_ms'])}/"
                f"{fmt_ms(f['b_received_to_processed'][w]['p99_ms'])} ms"
                for w in f.get("b_post_to_received", {})
            ),
            f"- {shape}: B's worst seconds (since the storm began): "
            + ", ".join(
                f"{w['second']} s (max {w['max_ms']:,.0f} ms, {w['over_2s']} over 2 s)"
                for w in f["b_worst_seconds"]
            ),
            *(
                f"- {shape}: CPU cores, {w} ({s}): "
                + ", ".join(f"{n} {v:.2f}" for n, v in cores.items())
                for (w, cores), s in zip(
                    f["cpu_cores"].items(),
                    (f"{f['storm_s']:.0f} s", f"{f['a_drain_s']:.0f} s", f"{f['tail_s']:.0f} s"),
                    strict=True,
                )
            ),
        ]
    for shape, f in found:
        out += [
            "",
            f"Timeline ({shape}, every 5 s): inbox backlog per tenant, A's alerts waiting "
            "for tier 1, escalation events by status, Redis queues (messages not acknowledged) "
            "and the jobs in them (actors of 100 random messages per queue, scaled)",
            "",
            "| t s | A pending | B pending | A waiting tier 1 | escalation events | queues "
            "| jobs in them (sampled) | PostgreSQL backends active: waiting for |",
            "|---|---|---|---|---|---|---|---|",
        ]
        last = -5.0
        for point in f["timeline"]:
            if point["t"] - last < 5 and point is not f["timeline"][-1]:
                continue
            last = point["t"]
            events = ", ".join(f"{s} {n:,}" for s, n in sorted(point["escalation"].items()))
            queues = ", ".join(f"{q} {n:,}" for q, n in point.get("queues", {}).items() if n)
            jobs = ", ".join(f"{j} ~{n:,}" for j, n in point.get("jobs", {}).items() if n)
            waits = ", ".join(f"{w} {n}" for w, n in point.get("waits", {}).items())
            out.append(
                f"| {point['t']:.0f} | {point['a_pending']:,} | {point['b_pending']:,} "
                f"| {point['a_awaiting_tier_1']:,} | {events} | {queues} | {jobs} | {waits} |"
            )
    return out


def target_row(report: dict[str, Any]) -> list[dict[str, Any]]:
    rows_: list[dict[str, Any]] = []
    for shape, value in report["shapes"].items():
        f = value.get("noisy") if isinstance(value, dict) else None
        if not isinstance(f, dict):
            continue
        got = f["b_latency"]
        rows_.append(
            {
                "target": f"noisy neighbour: tenant B's webhook to processed p99 < "
                f"{B_TARGET_P99_MS / 1000:.0f} s while A storms into a dead provider",
                "shape": shape,
                "needed": f"p99 < {B_TARGET_P99_MS:,.0f} ms, every alert accepted and processed",
                "measured": f"p50 {fmt_ms(got['p50_ms'])} ms, p99 {fmt_ms(got['p99_ms'])} ms, "
                f"max {fmt_ms(got['max_ms'])} ms over {got['count']:,}, not accepted "
                f"{f['b_not_accepted']}, not processed {f['b_missing']}",
                "met": f["b_p99_met"],
            }
        )
    return rows_
