"""Process settings (from the command line or tests), distinct from scenario data."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4599


@dataclass
class Settings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    log_level: str = "info"
    max_body_bytes: int = 1024 * 1024  # Prime and AGCOD bodies; S3 has its own cap
    # any request body, S3 included: bodies are held in memory (moto keeps objects in memory too),
    # so the cap is far below S3's 5 GB; over it the server answers 413 and closes
    max_s3_body_bytes: int = 512 * 1024 * 1024
    sigv4_debug: bool | None = None  # None: as the scenario says
    threads: int = 8  # worker threads kept ready (the built-in server starts more on demand)
    server: str = "builtin"  # "builtin" (mocksrv.httpserver) or "waitress"
    scenario_paths: list[str] = field(default_factory=list)
    # the state engine: a SQLite file or a postgresql:// URL (mocksrv.state); None: memory only
    state: str | None = None
    tls_port: int | None = None  # an HTTPS listener beside the plain one (mocksrv.tls)
    ca_dir: Path | None = None  # the local CA's directory; None: mocksrv.tls.default_ca_dir()
    # more directories the admin API may load scenario files from (besides scenario_paths)
    scenario_roots: list[str] = field(default_factory=list)
    # the admin API's bearer token (required when set; always set off loopback, see toolkit/guard)
    admin_token: str | None = field(default=None, repr=False)
    admin_hosts: list[str] = field(default_factory=list)  # more Host names the admin API accepts
    max_tenants: int = 1000  # tenants a server holds at once (POST /__admin/tenants: 409 beyond)
    metrics_open: bool = False  # GET /__admin/metrics without the token, on any bind
