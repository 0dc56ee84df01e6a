"""`python -m plano_daemon` is the same as the `plano-daemon` console script."""

from plano_daemon.cli import main

raise SystemExit(main())
