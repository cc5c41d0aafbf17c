"""`serve --workers N`: N processes serving the same ports and one shared state.

The supervisor (the process the user started) installs the scenarios into the state, reserves
the ports, and forks the workers; each worker opens the state itself, builds its runtime from
what the state says is active, and listens on the reserved ports with `SO_REUSEPORT`, so the
kernel spreads connections over the workers. A worker that dies is started again. Without
`--state` the workers share a private SQLite database made for the run and removed at exit.

The supervisor holds no thread and no database connection when it forks.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import shutil
import signal
import socket
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from mocksrv.errors import MocksrvError
from mocksrv.scenario.loader import Scenario
from mocksrv.settings import Settings

log = logging.getLogger("mocksrv")
RESTART_PAUSE = 0.5  # seconds between restarts of a worker that keeps dying


def worker_count(text: str) -> int:
    """`--workers N` or `auto` (the number of cores this process may use); MocksrvError else."""
    if text == "auto":
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # not on Linux
            return os.cpu_count() or 1
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise MocksrvError(f"--workers must be a number of at least 1, or auto: {text!r}")
    return count


def serve_workers(args: Any, settings: Settings, workers: int) -> int:
    """`serve --workers N`: install the scenarios, start N workers, print the banner once they
    listen, keep them until a signal."""
    from mocksrv.launch import banner, load_scenarios
    from mocksrv.state.engine import StateError

    if settings.server != "builtin":
        raise MocksrvError("--workers needs the built-in server, not waitress")
    supervisor = Supervisor(settings, load_scenarios(settings), workers)
    try:
        app = supervisor.prepare()
        supervisor.start()
    except (StateError, RuntimeError) as exc:
        supervisor.stop()
        raise MocksrvError(str(exc)) from None
    except OSError as exc:
        supervisor.stop()
        reason = exc.strerror or str(exc)
        raise MocksrvError(f"cannot listen on {settings.host}:{settings.port}: {reason}") from None

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        print(banner(app, *supervisor.urls(), workers=workers), flush=True)
        if getattr(args, "admin_token_generated", False):
            print(f"Admin API token (generated; send 'Authorization: Bearer <token>'): "
                  f"{settings.admin_token}", flush=True)  # fmt: skip
        supervisor.run()
    except KeyboardInterrupt:
        print("mocksrv stopped", flush=True)
    finally:
        supervisor.stop()
    return 0


def _reserve(host: str, port: int) -> socket.socket:
    """Bind (not listen) with SO_REUSEPORT: the port is the supervisor's while workers come and
    go, and port 0 picks the one every worker then uses."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class Supervisor:
    """Starts and keeps `count` worker processes; `run()` returns when it is told to stop."""

    def __init__(self, settings: Settings, scenarios: list[Scenario] | None, count: int) -> None:
        self.settings = settings
        self.scenarios = scenarios
        self.count = count
        self.private: Path | None = None  # the run's own state folder, removed at exit
        self.children: dict[int, int] = {}  # pid -> worker index
        self._stopping = False
        self._reserved: list[socket.socket] = []
        self._ready_r, self._ready_w = os.pipe()  # a worker writes a byte once it listens
        self.app: Any = None  # the supervisor's view of the state (banner, `mocksrv run`)

    # -- start ---------------------------------------------------------------------------------

    def prepare(self) -> Any:
        """Install the scenarios into the state and reserve the ports; returns the app the
        banner describes (its runtime's background work is not started)."""
        from mocksrv.app import create_app
        from mocksrv.state.open import open_engine

        if self.settings.state is None:
            self.private = Path(tempfile.mkdtemp(prefix="mocksrv-state-"))
            self.settings = replace(self.settings, state=str(self.private / "state.db"))
        assert self.settings.state is not None
        engine = open_engine(self.settings.state)
        try:
            self.app = create_app(self.settings, self.scenarios, engine, start=False)
        except BaseException:
            engine.close()
            raise
        plain = _reserve(self.settings.host, self.settings.port)
        self._reserved.append(plain)
        self.settings = replace(self.settings, port=plain.getsockname()[1])
        if self.settings.tls_port is not None:
            tls = _reserve(self.settings.host, self.settings.tls_port)
            self._reserved.append(tls)
            self.settings = replace(self.settings, tls_port=tls.getsockname()[1])
        self.app.runtime.engine.close()  # no connection may cross the fork
        return self.app

    def start(self, timeout: float = 60.0) -> None:
        """Fork the workers and return once each listens (so the banner's URL answers)."""
        for index in range(self.count):
            self._fork(index)
        os.close(self._ready_w)
        self._ready_w = -1
        ready, deadline = 0, time.monotonic() + timeout
        while ready < self.count and time.monotonic() < deadline:
            readable, _, _ = select.select([self._ready_r], [], [], 0.5)
            if readable:
                got = os.read(self._ready_r, 64)
                if not got:
                    break  # every worker is gone
                ready += len(got)
        if ready < self.count:
            raise RuntimeError(f"only {ready} of {self.count} workers started")

    def _fork(self, index: int) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                code = self._serve(index)
            except BaseException:  # never return into the supervisor's code
                log.exception("worker %d failed", index)
            finally:
                os._exit(code)
        self.children[pid] = index

    def _serve(self, index: int) -> int:
        """A worker's life: its own state connections, runtime and server on the shared ports."""
        from mocksrv.app import create_app
        from mocksrv.server import make_server
        from mocksrv.state.open import open_engine

        _die_with_parent()
        for sock in self._reserved:
            sock.close()
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor decides; it sends SIGTERM

        def terminate(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt  # before the server runs: nothing holds a lock yet

        signal.signal(signal.SIGTERM, terminate)
        assert self.settings.state is not None
        engine = open_engine(self.settings.state)
        app = create_app(self.settings, None, engine, install=False)
        server = make_server(app, self.settings, reuse_port=True)
        from mocksrv.launch import stopper

        signal.signal(signal.SIGTERM, stopper(server))  # the loop ends after its turn
        if self._ready_w >= 0:  # a first start (a restart is not waited for)
            os.write(self._ready_w, b"1")
            os.close(self._ready_w)
        os.close(self._ready_r)
        try:
            server.run()
        except KeyboardInterrupt:
            pass
        finally:
            server.close()
            app.runtime.close()
            engine.close()
        return 0

    def urls(self) -> tuple[str, str | None]:
        """The plain and HTTPS URLs the banner shows (the ports every worker listens on)."""
        from mocksrv.server import server_url

        s = self.settings
        plain = server_url(_Ports(s.port), s.host)
        tls = server_url(_Ports(s.tls_port), s.host) if s.tls_port is not None else None
        return plain, tls.replace("http:", "https:", 1) if tls else None

    # -- supervise -------------------------------------------------------------------------------

    def run(self) -> None:
        """Wait for workers; start again any that died, until stop() (a signal) is called."""
        while self.children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            index = self.children.pop(pid, None)
            if index is None or self._stopping:
                continue
            log.warning("worker %d (pid %d) ended (%s); starting it again", index, pid,
                        _exit_text(status))  # fmt: skip
            time.sleep(RESTART_PAUSE)
            if not self._stopping:
                self._fork(index)

    def stop(self) -> None:
        """Tell every worker to stop, wait for them, and remove the run's private state."""
        self._stopping = True
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while self.children and time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                time.sleep(0.05)
                continue
            self.children.pop(pid, None)
        for pid in list(self.children):  # still there after 10 s
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        self.children.clear()
        for sock in self._reserved:
            sock.close()
        for fd in (self._ready_r, self._ready_w):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._ready_r = self._ready_w = -1
        if self.private is not None:
            shutil.rmtree(self.private, ignore_errors=True)


class _Ports:
    """What `server.server_url` reads of a server: the port."""

    def __init__(self, port: int | None) -> None:
        self.effective_port = port


def _exit_text(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    return f"exit {os.WEXITSTATUS(status)}"


def _die_with_parent() -> None:
    """Linux: this worker gets SIGTERM if the supervisor dies (a kill -9 leaves no orphans)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    except (OSError, AttributeError):
        pass
