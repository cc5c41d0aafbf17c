"""`mocksrv record` as a child process (its banner, SIGTERM stop and final check are part of what
the record tests test): the proxy's URLs are read from its banner."""

from __future__ import annotations

import subprocess
import threading
import time

from tests.support.cli import PY
from tests.support.paths import ROOT


class Record:
    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [PY, "-m", "mocksrv", "record", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self.proc.stdout is not None
        self.banner: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.banner.append(line.rstrip("\n"))
            if line.startswith("stop with"):
                break
        if not self.banner or not self.banner[0].startswith("mocksrv record: proxy on "):
            self.proc.kill()
            raise AssertionError("\n".join(self.banner) + self.proc.communicate()[1])
        self.url = self.banner[0].rsplit(" ", 1)[1]
        https = [ln for ln in self.banner if ln.startswith("HTTPS on ")]
        self.tls_port = int(https[0].split()[2].rsplit(":", 1)[1]) if https else None
        self._err: list[str] = []
        self._drain = threading.Thread(target=self._read_stderr, daemon=True)
        self._drain.start()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        self._err.append(self.proc.stderr.read())

    def stop(self) -> tuple[int, str, str]:
        """SIGTERM; (exit status, the rest of stdout, stderr)."""
        self.proc.terminate()
        assert self.proc.stdout is not None
        out = self.proc.stdout.read()
        code = self.proc.wait(30)
        self._drain.join(10)
        self.proc.stdout.close()
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        return code, out, "".join(self._err)
