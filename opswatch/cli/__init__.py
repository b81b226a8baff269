"""The ``opswatch`` command: processes (serve, api, worker, scheduler), database
and administration. Administrative commands print one JSON object with ``--json``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from opswatch.cli import admin, processes, retention, tenants, users
from opswatch.cli.output import CommandError
from opswatch.config import ConfigError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="opswatch", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    processes.add_commands(commands)
    tenants.add_commands(commands)
    users.add_commands(commands)
    admin.add_commands(commands)
    retention.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.handler(args)
        return result
    except CommandError as error:
        print(f"opswatch: error: {error}", file=sys.stderr)
        return error.exit_code
    except ConfigError as error:
        print(f"opswatch: configuration error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
