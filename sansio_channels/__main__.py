"""``python -m sansio_channels``: the command-line tools."""

from .cli import main

raise SystemExit(main())
