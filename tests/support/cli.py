"""The `mocksrv` command line run as a user runs it: a child process of this interpreter."""

from __future__ import annotations

import subprocess
import sys

from tests.support.paths import ROOT

PY = sys.executable


def mocksrv_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`python -m mocksrv ARGS` in the repository root; its output captured as text."""
    return subprocess.run(
        [PY, "-m", "mocksrv", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
