"""The ``opswatch`` command: processes (serve, api, worker, scheduler), database
and administration. Administrative commands print one JSON object with ``--json``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from opswatch.cli import admin, processes, retention, tenants, users
from opswatch.cli.output import CommandError
from opswatch.config import ConfigError

PREFIX = "opswatch: error:"  # every error this command prints starts so


class Parser(argparse.ArgumentParser):
    """argparse's parser, with its usage errors under the one prefix (argparse would
    start them with the subcommand's name)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        command = self.prog.removeprefix("opswatch").strip()
        self.exit(2, f"{PREFIX} {command + ': ' if command else ''}{message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="opswatch", description=__doc__)
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
        print(f"{PREFIX} {error}", file=sys.stderr)
        return error.exit_code
    except ConfigError as error:
        print(f"{PREFIX} {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
