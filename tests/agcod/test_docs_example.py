"""The copy-paste example of docs/agcod.md creates a gift card, run as a separate process."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from tests.support.agcod import DEFAULT
from tests.support.paths import ROOT

DOC = ROOT / "docs" / "agcod.md"


def python_example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert blocks, "docs/agcod.md has no python example"
    return blocks[0]


def test_docs_example_creates_a_gift_card(server_factory):
    code = python_example()
    assert 'ENDPOINT = "http://127.0.0.1:4599"' in code
    srv = server_factory([DEFAULT])  # the default scenario, as served
    code = code.replace("http://127.0.0.1:4599", srv.url)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    status, _, body = out.stdout.strip().partition(" ")
    assert status == "200", out.stdout + out.stderr
    card = json.loads(body)
    assert card["status"] == "SUCCESS"
    assert card["creationRequestId"] == "MocksDocExample001"
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{6}-[A-Z0-9]{4}", card["gcClaimCode"])


def test_docs_list_every_decision_key():
    text = DOC.read_text()
    import yaml

    default = yaml.safe_load((ROOT / "scenarios" / "default.yaml").read_text())
    for key in default["agcod"]["decisions"]:
        assert f"`{key}`" in text, key
