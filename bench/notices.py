"""The plans of the notices job's two statements over a large notification table.

Every alert's Slack message and thread lines are notices, so the table grows
with alerts, while the notices job (every 10 s, and after each handoff) looks
only for the Slack DMs still open: the oldest pending ones, and ones a dead job
left "sending". This seeds a scratch PostgreSQL database with ``--rows``
notices (1% of them DMs, 0.1% pending), runs ``EXPLAIN (ANALYZE, BUFFERS)`` of
the statements ``opswatch.slack.direct`` sends, as Tortoise writes them, and
drops the database. The stuck-DM statement is an UPDATE; its SELECT with the
same condition is explained instead, so that nothing changes. No seeded DM is
stuck, which is the usual state.

    .venv/bin/python bench/notices.py --database-url postgres://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
from datetime import UTC, datetime
from typing import Any

import asyncpg
from common import HelpFormatter, at_least_one, create_database, drop_database, machine, say
from common import with_database as on_database

from opswatch import db
from opswatch.slack.direct import pending_dms, stuck_dms

SEED = """
INSERT INTO notification (id, created_at, tenant_id, dedup_key, kind, channel, text,
                          payload, status, sent_at, updated_at)
SELECT gen_random_uuid(), now() - n * interval '1 second', $1, 'notice:' || n,
       CASE WHEN n % 100 = 0 THEN 'handoff.incoming' ELSE 'alert.message' END,
       CASE WHEN n % 100 = 0 THEN 'slack_dm' ELSE 'slack_channel' END,
       'text', '{}',
       CASE WHEN n % 1000 = 0 THEN 'pending' ELSE 'sent' END,
       now() - n * interval '1 second', now() - n * interval '1 second'
FROM generate_series(1, $2) AS n
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument(
        "--database-url",
        default="postgres://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL server where a scratch database may be created",
    )
    parser.add_argument("--rows", type=at_least_one, default=200_000, help="notices to seed")
    parser.add_argument(
        "--without-index",
        action="store_true",
        help="drop notification_open_dm first: the plans before migration 0010",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser.parse_args(argv)


async def seed(url: str, rows: int, *, without_index: bool) -> None:
    connection = await asyncpg.connect(url)
    try:
        tenant = await connection.fetchval(
            "INSERT INTO tenant (id, created_at, updated_at, name, slug, settings) "
            "VALUES (gen_random_uuid(), now(), now(), 'Bench', 'bench', '{}') RETURNING id"
        )
        await connection.execute(SEED, tenant, rows)
        if without_index:
            await connection.execute("DROP INDEX notification_open_dm")
        await connection.execute("ANALYZE notification")
    finally:
        await connection.close()


async def explain(url: str, sql: str) -> dict[str, Any]:
    connection = await asyncpg.connect(url)
    try:
        plan = await connection.fetchval(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}")
    finally:
        await connection.close()
    top = json.loads(plan)[0]
    nodes, scans = [top["Plan"]], []
    while nodes:
        node = nodes.pop()
        if "Scan" in node["Node Type"]:
            scans.append(f"{node['Node Type']} {node.get('Index Name', '')}".strip())
        nodes += node.get("Plans", [])
    buffers = top["Plan"].get("Shared Hit Blocks", 0) + top["Plan"].get("Shared Read Blocks", 0)
    return {"scans": scans, "buffers": buffers, "ms": round(top["Execution Time"], 3)}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    admin_url = on_database(args.database_url, "postgres", "postgresql")
    name = f"opswatch_bench_{secrets.token_hex(6)}"
    version = await create_database(admin_url, name)
    try:
        url = on_database(args.database_url, name, "postgres")
        await db.upgrade(url)
        say(f"seeding {args.rows:,} notices")
        await seed(
            on_database(args.database_url, name, "postgresql"),
            args.rows,
            without_index=args.without_index,
        )
        await db.connect(url)
        try:
            # Inlined values plan as OpsWatch's prepared statements do: it plans
            # each execution for its values (plan_cache_mode=force_custom_plan).
            statements = {
                "pending DMs (the batch to send)": pending_dms().sql(params_inline=True),
                "stuck DMs (marked unknown)": stuck_dms(datetime.now(UTC)).sql(params_inline=True),
            }
        finally:
            await db.disconnect()
        plans = {
            label: await explain(on_database(args.database_url, name, "postgresql"), sql)
            for label, sql in statements.items()
        }
    finally:
        await drop_database(admin_url, name)
    return {
        "machine": machine(version),
        "rows": args.rows,
        "index": not args.without_index,
        "plans": plans,
    }


def render(report: dict[str, Any]) -> str:
    index = "with" if report["index"] else "without"
    lines = [
        f"{report['rows']:,} notices, {index} notification_open_dm; "
        + json.dumps(report["machine"]),
        "",
    ]
    lines += ["| statement | plan | buffers | ms |", "|---|---|---:|---:|"]
    for label, plan in report["plans"].items():
        scans = ", ".join(plan["scans"])
        lines.append(f"| {label} | {scans} | {plan['buffers']:,} | {plan['ms']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = asyncio.run(run(args))
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
