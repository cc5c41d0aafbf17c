"""A small file system for disk-full tests: a tmpfs of a few MiB mounted in a private mount
namespace (`unshare`; a user namespace too when the tests do not run as root), kept alive by a
holder process; servers run inside it with `nsenter`, the test fills and frees it the same way.
The network is not touched: a server inside listens on the host's 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path


class SmallFS:
    def __init__(self, size: str = "4m") -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="mocksrv-smallfs-"))
        user = [] if os.geteuid() == 0 else ["-r"]  # map this user to root in a user namespace
        self.holder = subprocess.Popen(
            [
                "unshare",
                *user,
                "-m",
                "--propagation",
                "private",
                "sh",
                "-c",
                f"mount -t tmpfs -o size={size},mode=0755 tmpfs {self.dir} && echo ready && "
                "exec sleep 100000",
            ],  # fmt: skip
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.holder.stdout is not None
        line = self.holder.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(
                f"cannot mount a tmpfs: {self.holder.stderr.read() if self.holder.stderr else ''}"
            )
        self.enter: tuple[str, ...] = (
            "nsenter", "-t", str(self.holder.pid), *(("-U", "--preserve-credentials") if user
                                                      else ()), "-m",
        )  # fmt: skip

    def run(self, script: str) -> str:
        done = subprocess.run(
            [*self.enter, "sh", "-c", script], capture_output=True, text=True, timeout=60
        )
        return done.stdout + done.stderr

    def fill(self) -> None:
        """Fill what is left (a filler file), so the next write that needs a page fails."""
        self.run(f"dd if=/dev/zero of={self.dir}/filler bs=64k 2>/dev/null; sync")
        time.sleep(0.1)

    def free(self) -> None:
        self.run(f"rm -f {self.dir}/filler")

    def listing(self) -> str:
        return self.run(f"ls -la {self.dir}")

    def close(self) -> None:
        self.holder.kill()
        self.holder.wait(10)
        for stream in (self.holder.stdout, self.holder.stderr):
            if stream is not None:
                stream.close()
        os.rmdir(self.dir)
