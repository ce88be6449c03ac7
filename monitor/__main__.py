"""`python -m monitor` runs the command-line interface."""

from monitor.cli import main

raise SystemExit(main())
