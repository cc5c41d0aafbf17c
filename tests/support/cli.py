"""The `mocksrv` command line run as a user runs it: a child process of this interpreter. Only for
tests of the command line itself; other tests start a server as tests/README.md says."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

from tests.support.paths import ROOT

PY = sys.executable


def free_port() -> int:
    """A port free right now (for the command lines that must name one: the Dockerfile's, an
    environment variable's)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mocksrv_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`python -m mocksrv ARGS` in the repository root; its output captured as text."""
    return subprocess.run(
        [PY, "-m", "mocksrv", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


class Serve:
    """`mocksrv serve --port 0 ARGS` as a child process, for tests of the command itself (its
    banner, exit, signals, memory, `--state` across restarts). Its banner is read up to the
    `Scenario:` line (and the generated admin token after it, when `--host` leaves loopback
    without MOCKSRV_ADMIN_TOKEN); after that its output is drained on threads so it never blocks.
    """

    def __init__(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        port: str | None = "0",
        prefix: tuple[str, ...] = (),
    ) -> None:
        """`port=None` leaves `--port` out (the port then comes from MOCKSRV_PORT or the
        default); `prefix` is a command the server runs under (nsenter into a small file
        system)."""
        ports = ["--port", port] if port is not None else []
        self.proc = subprocess.Popen(
            [*prefix, PY, "-m", "mocksrv", "serve", *ports, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
        )
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.lines: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.lines.append(line.rstrip("\n"))
            if line.startswith("Scenario:"):
                break
        if not self.lines or " listening on " not in self.lines[0]:
            self.proc.kill()
            err = self.proc.stderr.read()
            self.proc.communicate(timeout=30)  # closes the pipes (no ResourceWarning later)
            raise AssertionError("\n".join(self.lines) + err)
        # the first URL: loopback's, also when bound to every address (then more follow)
        self.url = re.search(r"http://[^\s,]+", self.lines[0]).group(0)  # type: ignore[union-attr]
        if "--host" in args and not (env or {}).get("MOCKSRV_ADMIN_TOKEN"):
            self.lines.append(self.proc.stdout.readline().rstrip("\n"))  # the token line
        self._err: list[str] = []
        self._drains = [
            threading.Thread(target=self.proc.stdout.read, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for t in self._drains:
            t.start()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        self._err.append(self.proc.stderr.read())

    @property
    def banner(self) -> str:
        return "\n".join(self.lines) + "\n"

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def token(self) -> str | None:
        found = [ln for ln in self.lines if ln.startswith("Admin API token")]
        return found[0].rsplit(" ", 1)[1] if found else None

    def stop(self) -> str:
        """SIGTERM, then the process's stderr."""
        self.proc.terminate()
        return self._ended()

    def kill(self) -> str:
        """SIGKILL (no shutdown at all), then the process's stderr."""
        self.proc.send_signal(signal.SIGKILL)
        return self._ended()

    def _ended(self) -> str:
        self.proc.wait(20)
        for t in self._drains:
            t.join(10)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        return "".join(self._err)


def serve_together(count: int, *args: str, env: dict[str, str] | None = None,
                   port: str | None = "0") -> list[Serve]:  # fmt: skip
    """`count` servers started at the same moment, as a compose file or an orchestrator starts
    replicas; an AssertionError with each failed one's output if any did not start."""
    started: list[Serve | BaseException | None] = [None] * count

    def one(n: int) -> None:
        try:
            started[n] = Serve(*args, env=env, port=port)
        except BaseException as exc:  # the banner never came: its output says why
            started[n] = exc

    threads = [threading.Thread(target=one, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    servers = [s for s in started if isinstance(s, Serve)]
    if len(servers) < count:
        for s in servers:
            s.stop()
        failed = [s for s in started if not isinstance(s, Serve)]
        raise AssertionError(f"{len(failed)} of {count} servers did not start: {failed}")
    return servers
