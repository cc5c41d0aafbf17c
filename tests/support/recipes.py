"""Client-recipe helpers (no tests here): the recipes of docs/promotions.md, run as printed.

A recipe is the fenced block after `<!-- recipe: NAME -->`; its `http://127.0.0.1:4599` becomes
the test server's address. Tools come from the venv (aws, s3cmd, minio), apt (rclone) or npm (the
JavaScript SDK, in tests/tools/node_modules); a missing one fails the test naming the installer.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import ROOT, TOOLS

DOC = ROOT / "docs" / "promotions.md"
DOC_URL = "http://127.0.0.1:4599"
INSTALLER = "tests/tools/install-s3-clients.sh"
VENV_BIN = Path(sys.executable).parent
PREFIX = "new-promo-codes/clientname=clientname/marketplace=US/offertype=student-promo-deal/promotionid=PROMO-0001/"
_BLOCK = re.compile(r"<!-- recipe: (?P<name>[a-z0-9-]+) -->\n```[a-z]*\n(?P<body>.*?)```", re.S)


def recipe(name: str, url: str = DOC_URL) -> str:
    """The recipe's text with the server's address (host:port too, for the tools that want it)."""
    found = {m["name"]: m["body"] for m in _BLOCK.finditer(DOC.read_text())}
    assert name in found, f"docs/promotions.md has no recipe {name!r}"
    return found[name].replace(DOC_URL, url).replace(DOC_URL[7:], url.split("://", 1)[1])


def require(tool: str) -> str:
    """The tool's path; fails (never skips) when it is missing."""
    path = shutil.which(tool, path=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if path is None:
        hint = (
            "run `pip install -e '.[test]'`" if tool in ("aws", "s3cmd")
            else f"run {INSTALLER} (as root)"
        )  # fmt: skip
        pytest.fail(f"{tool} is not installed: {hint}", pytrace=False)
    return path


def require_node_sdk() -> Path:
    require("node")
    modules = TOOLS / "node_modules"
    for package in ("client-s3", "lib-storage"):
        if not (modules / "@aws-sdk" / package).is_dir():
            pytest.fail(f"@aws-sdk/{package} is not installed: run {INSTALLER}", pytrace=False)
    return modules


def tool_env(home: Path, **extra: str) -> dict[str, str]:
    """A clean environment: no AWS_* or RCLONE_* variables, HOME in the test's folder."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "RCLONE_", "XDG_CONFIG"))}  # fmt: skip
    env.update(HOME=str(home), PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}", **extra)
    return env


def run(
    line: str, cwd: Path, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", line], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip


def run_ok(line: str, cwd: Path, env: dict[str, str]) -> str:
    done = run(line, cwd, env)
    assert done.returncode == 0, f"{line}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    return done.stdout


def codes_file(path: Path, prefix: str, rows: int = 2) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{prefix}-{i:07d},new\n" for i in range(rows)))
    return path


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
