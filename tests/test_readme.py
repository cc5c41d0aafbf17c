"""The README's copy-paste examples run as printed (against a test server instead of port 4599)."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import ROOT


def python_examples(text: str) -> list[str]:
    """Bodies of `python - <<'EOF' ... EOF` blocks."""
    return re.findall(r"python - <<'EOF'\n(.*?)\nEOF\n", text, flags=re.S)


def test_readme_prime_example_runs_as_printed(default_server):
    examples = python_examples((ROOT / "README.md").read_text())
    assert examples, "the README has no runnable example"
    code = examples[0].replace("http://127.0.0.1:4599", default_server.url)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == '200 {"message":"SUCCESS"}'
