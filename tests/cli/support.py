"""Running the ``opswatch`` command as an operator or a script would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def opswatch(
    env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``opswatch ARGS`` in a subprocess with the test run's environment."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "opswatch"), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
