"""Allows `python -m mocksrv`."""

from mocksrv.cli import main

raise SystemExit(main())
