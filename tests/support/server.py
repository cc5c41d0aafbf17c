"""A real mocksrv on a free port of this process (a background thread), for one test or module."""

from __future__ import annotations

from mocksrv.app import create_app
from mocksrv.scenario.loader import load_files
from mocksrv.server import ServerThread
from mocksrv.settings import Settings


def start_server(scenario_paths: list[str] | None = None, **settings: object) -> ServerThread:
    cfg = Settings(**{"host": "127.0.0.1", "port": 0, **settings})  # type: ignore[arg-type]
    scenarios = load_files(scenario_paths) if scenario_paths else None
    return ServerThread(create_app(cfg, scenarios), cfg).start()
