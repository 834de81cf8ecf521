"""``python -m enerteg_tui`` runs the ``enerteg`` command."""

from .cli import main

raise SystemExit(main())
