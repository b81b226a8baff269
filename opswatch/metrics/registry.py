"""prometheus-client's multiprocess mode, when PROMETHEUS_MULTIPROC_DIR is set.

Each process writes its samples to files named after its process identifier. The
containers of the production shape share the directory (a volume), and each
container numbers its processes from 1, so the identifier is the host name and the
pid: with the pid alone, two containers' processes would write into one file.

Imported before any metric is defined (``definitions`` imports it first), because
prometheus-client picks the file each labelled sample goes to when it is created.
"""

from __future__ import annotations

import glob
import os
import re
import socket

from prometheus_client import values
from prometheus_client.multiprocess import mark_process_dead

ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    return os.environ.get(ENV) or None


def process_identifier() -> str:
    # No "_": prometheus-client splits file names at it.
    host = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname()) or "host"
    return f"{host}-{os.getpid()}"


def _install() -> None:
    if multiprocess_dir() is not None:
        values.ValueClass = values.MultiProcessValue(process_identifier=process_identifier)  # type: ignore[no-untyped-call]


_install()


def wipe(path: str) -> int:
    """Remove every sample file: at the start of a deployment, nothing written before
    belongs to a process that is still running. How many files went."""
    removed = 0
    for name in glob.glob(os.path.join(path, "*.db")):
        os.remove(name)
        removed += 1
    return removed


def forget_earlier_incarnations() -> None:
    """A restarted container keeps its host name: the live gauges of the processes it
    ran before are stale (counters stay: they are totals)."""
    path = multiprocess_dir()
    if path is None:
        return
    host = process_identifier().rsplit("-", 1)[0]
    mine = process_identifier()
    for name in glob.glob(os.path.join(path, f"gauge_live*_{host}-*.db")):
        identifier = os.path.basename(name).split("_", 2)[2].removesuffix(".db")
        if identifier != mine and identifier.rsplit("-", 1)[0] == host:
            os.remove(name)


def process_ended() -> None:
    """This process's live gauges stop counting (what it counted in totals stays)."""
    path = multiprocess_dir()
    if path is not None:
        mark_process_dead(process_identifier(), path)  # type: ignore[no-untyped-call]
