"""The README's copy-paste examples run as printed (against a test server instead of port 4599)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.support.paths import ROOT


def python_examples() -> list[str]:
    """Bodies of the README's `python - <<'EOF' ... EOF` blocks."""
    text = (ROOT / "README.md").read_text()
    return re.findall(r"python - <<'EOF'\n(.*?)\nEOF\n", text, flags=re.S)


def run_example(code: str, url: str) -> str:
    code = code.replace("http://127.0.0.1:4599", url)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


@pytest.fixture(scope="module")
def examples() -> list[str]:
    found = python_examples()
    assert len(found) >= 2, "the README lost its runnable examples"
    return found


def test_readme_prime_example_runs_as_printed(mocksrv, examples):
    assert run_example(examples[0], mocksrv.url) == '200 {"message":"SUCCESS"}'


def test_readme_agcod_example_creates_a_gift_card(server_factory, examples):
    srv = server_factory()  # a fresh server, as a new user would have
    first = run_example(examples[1], srv.url)
    status, _, body = first.partition(" ")
    card = json.loads(body)
    assert status == "200" and card["status"] == "SUCCESS"
    assert card["creationRequestId"] == "MocksReadme001"
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{6}-[A-Z0-9]{4}", card["gcClaimCode"])
    assert run_example(examples[1], srv.url) == first  # idempotent, byte-identical
