"""``opswatch cleanup``: the retention run a Kubernetes CronJob (or cron) starts
daily; the scheduler also runs it once a day."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opswatch.audit.actor import Actor
from opswatch.cli.output import CommandError, run_with_database
from opswatch.config import Settings


def add_commands(commands: Any) -> None:
    cleanup = commands.add_parser(
        "cleanup",
        help="delete resolved alerts and archive audit entries past each tenant's retention",
    )
    cleanup.add_argument("--tenant", metavar="SLUG", help="only this tenant")
    cleanup.add_argument(
        "--dry-run", action="store_true", help="report what would go, change nothing"
    )
    cleanup.add_argument(
        "--as-of",
        type=_instant,
        metavar="ISO-8601",
        help="measure ages from this instant instead of now (e.g. 2026-11-27T00:00:00Z)",
    )
    cleanup.add_argument(
        "--export-dir", type=Path, metavar="DIR", help="also write archived audit entries here"
    )
    cleanup.add_argument("--json", action="store_true", help="print one JSON object")
    cleanup.set_defaults(handler=cleanup_command)


def _instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 instant: {text!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def cleanup_command(args: argparse.Namespace) -> int:
    from opswatch.audit.cleanup import cleanup
    from opswatch.tenants.tenants import get_tenant_by_slug

    async def work(settings: Settings) -> Any:
        if args.tenant is not None:
            await get_tenant_by_slug(args.tenant)  # an unknown slug is an error, not "nothing"
        return await cleanup(
            as_of=args.as_of,
            tenant_slug=args.tenant,
            dry_run=args.dry_run,
            export_dir=args.export_dir,
            actor=Actor.cli(),
        )

    reports = run_with_database(work)
    if args.json:
        print(json.dumps({"dryRun": args.dry_run, "tenants": [r.as_json() for r in reports]}))
        return 0
    verb = "would delete" if args.dry_run else "deleted"
    for r in reports:
        print(
            f"{r.tenant}: {verb} {r.deleted_alerts} alerts (resolved before {r.alerts_before}), "
            f"{r.deleted_escalation_events} escalation events, {r.deleted_inbox_events} inbox "
            f"events, {r.deleted_notifications} notices; "
            f"{'would archive' if args.dry_run else 'archived'} {r.archived_audit_entries} audit "
            f"entries (before {r.audit_before}); kept {r.kept_for_incidents} alerts of "
            f"incidents; {r.seconds:.1f} s"
            + (f"; exported to {r.exported_to}" if r.exported_to else "")
        )
    if not reports:
        raise CommandError("no tenants")
    return 0
