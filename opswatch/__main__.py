"""``python -m opswatch`` is the ``opswatch`` command."""

from opswatch.cli import main

raise SystemExit(main())
