"""Issue 22: the docs' docker-compose examples with a mocksrv service and a test service that
attaches to it run as written (no Docker engine here: the same command lines and environments,
the service name and port swapped for a free local port), and only with the shared admin token."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.support.cli import PY, free_port
from tests.support.paths import ROOT

TOKEN = "compose-shared-token"
CONTRACT = """def test_contract(mocksrv):
    assert mocksrv.active()          # the plugin reset the server (an admin call) first
"""


def compose_examples() -> list[tuple[str, dict[str, Any]]]:
    """(doc, compose document) for every yaml block with a `mocksrv` service and another service
    whose command points the pytest plugin at it."""
    found = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for block in re.findall(r"```yaml\n(.*?)```", doc.read_text(), flags=re.S):
            data = yaml.safe_load(block)
            services = data.get("services") if isinstance(data, dict) else None
            if not services or "mocksrv" not in services:
                continue
            if any(
                "--mocksrv-url=http://mocksrv:4599" in s.get("command", [])
                for s in services.values()
            ):
                found.append((doc.name, data))
    return found


def expand(value: str, env: dict[str, str]) -> str:
    """Compose's `${VAR}` and `${VAR:?message}`."""
    return re.sub(r"\$\{(\w+)(?::\?[^}]*)?\}", lambda m: env[m.group(1)], value)


def environment(service: dict[str, Any], shell: dict[str, str]) -> dict[str, str]:
    return {k: expand(str(v), shell) for k, v in (service.get("environment") or {}).items()}


def serve(service: dict[str, Any], shell: dict[str, str], port: int) -> subprocess.Popen[str]:
    args = [a.replace("4599", str(port)) for a in service["command"]]
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"),
           **environment(service, shell)}  # fmt: skip
    proc = subprocess.Popen([PY, "-m", "mocksrv", *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)  # fmt: skip
    assert proc.stdout is not None
    while not (line := proc.stdout.readline()).startswith("Scenario:"):
        assert line, "mocksrv did not start"
    return proc


def run_tests(service: dict[str, Any], env: dict[str, str], url: str, folder: Path) -> int:
    (folder / "tests" / "contract").mkdir(parents=True, exist_ok=True)
    (folder / "tests" / "contract" / "test_contract.py").write_text(CONTRACT)
    command = [c.replace("http://mocksrv:4599", url) for c in service["command"]]
    assert command[0] == "pytest"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MOCKSRV_")}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *command[1:]],
                          cwd=folder, env={**clean, **env}, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    return done.returncode


def test_compose_examples_run_with_a_shared_token(tmp_path):
    examples = compose_examples()
    assert {doc for doc, _ in examples} >= {"README.md", "toolkit.md"}
    shell = {"MOCKSRV_ADMIN_TOKEN": TOKEN}  # what `export MOCKSRV_ADMIN_TOKEN=...` gives compose
    for i, (doc, compose) in enumerate(examples):
        services = compose["services"]
        client = next(s for name, s in services.items() if name != "mocksrv")
        served, sent = environment(services["mocksrv"], shell), environment(client, shell)
        assert served.get("MOCKSRV_ADMIN_TOKEN"), f"{doc}: mocksrv listens on 0.0.0.0 with no token"
        assert sent.get("MOCKSRV_ADMIN_TOKEN") == served["MOCKSRV_ADMIN_TOKEN"], doc
        port = free_port()
        proc = serve(services["mocksrv"], shell, port)
        try:
            url = f"http://127.0.0.1:{port}"
            assert run_tests(client, sent, url, tmp_path / str(i)) == 0, doc
            # without the shared token the same suite is refused (what the docs used to print)
            without = {k: v for k, v in sent.items() if k != "MOCKSRV_ADMIN_TOKEN"}
            assert run_tests(client, without, url, tmp_path / f"{i}-no-token") != 0, doc
        finally:
            proc.terminate()
            proc.communicate(timeout=20)
