"""Packaging: the package list, the licence, declared dependencies, and a partner project that
installs the built wheel (not editable) in its own venv and runs `mocksrv run -- pytest`."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
import venv
from importlib.metadata import packages_distributions
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from tests.support.paths import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# pytest is imported only by mocksrv.pytest_plugin, which only pytest itself loads
NOT_RUNTIME = {"pytest"}


def normalized(requirement: str) -> str:
    name = re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_package_is_listed():
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    found = {
        ".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "mocksrv").rglob("__init__.py")
    }
    assert listed == found | {"mocksrv.bundled"}
    assert PYPROJECT["tool"]["setuptools"]["package-dir"] == {"mocksrv.bundled": "scenarios"}


def test_licence_is_apache_2_with_an_spdx_expression():
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text


def imported_distributions() -> set[str]:
    names: set[str] = set()
    for f in (ROOT / "mocksrv").rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    third = {n for n in names if n not in sys.stdlib_module_names and n != "mocksrv"}
    dists = packages_distributions()
    missing = sorted(n for n in third - NOT_RUNTIME if n not in dists)
    assert not missing, f"imported but not installed: {missing}"
    return {normalized(d) for n in third - NOT_RUNTIME for d in dists[n]}


def test_every_runtime_import_is_a_declared_dependency():
    declared = {normalized(r) for r in PYPROJECT["project"]["dependencies"]}
    assert imported_distributions() <= declared


# --- a partner project outside the repository ----------------------------------------------
PARTNER_SCENARIO = """\
version: 1
name: partner
expectations:
  - name: each test verified the SUCCESS code once
    match: {api: prime, operation: verify, fields: {offerCode: "123456789"}}
    count: {exactly: 2}
  - name: a gift card was created
    match: {api: agcod, operation: CreateGiftCard, outcome: SUCCESS}
    count: {exactly: 1}
"""
PARTNER_TESTS = """\
def test_prime(mocksrv_prime):
    assert mocksrv_prime.verify("123456789").json() == {"message": "SUCCESS"}


def test_agcod_and_s3(mocksrv_prime, mocksrv_agcod, mocksrv_s3, mocksrv_journal):
    assert mocksrv_prime.verify("123456789").status_code == 200
    body = {"creationRequestId": "MocksPartner1", "partnerId": "Mocks",
            "value": {"amount": 5, "currencyCode": "USD"}}
    assert mocksrv_agcod.call("CreateGiftCard", body).json()["status"] == "SUCCESS"
    listing = mocksrv_s3.list_objects_v2(
        Bucket="partner-promotions-devo", Prefix="new-promo-codes/clientname=clientname/"
    )
    assert listing["KeyCount"] == 0
    assert len(mocksrv_journal(api="prime")) == 1
"""


@pytest.fixture(scope="module")
def partner_venv(tmp_path_factory) -> Path:
    """A venv holding the built wheel and pytest: built once per run, pip's cache reused."""
    where = tmp_path_factory.mktemp("partner-venv")
    # built from a copy of what the image copies: setuptools writes build/ and *.egg-info beside
    # the sources, and another test worker may be building this checkout at the same time
    source = where / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    for name in ("mocksrv", "scenarios"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(source), "-w", str(where)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    wheel = next(where.glob("mocksrv-*.whl"))
    env_dir = where / "venv"
    venv.create(env_dir, with_pip=True)
    # the partner's environment from the start: a PYTHONPATH naming this checkout would make pip
    # take mocksrv for installed already and leave the wheel out
    subprocess.run(
        [str(env_dir / "bin/python"), "-m", "pip", "install", "-q", "--no-compile",
         "--disable-pip-version-check", str(wheel), "pytest"],
        check=True, capture_output=True, timeout=600, env=partner_env(env_dir),
    )  # fmt: skip
    return env_dir


def partner_env(venv_dir: Path) -> dict[str, str]:
    """The partner project's environment: its venv first on PATH, nothing of this checkout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOCKSRV_", "AWS_"))}
    env["PATH"] = f"{venv_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.pop("PYTHONPATH", None)
    return env


def in_partner(venv_dir: Path, project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), cwd=project, env=partner_env(venv_dir), capture_output=True, text=True,
        timeout=180,
    )  # fmt: skip


@pytest.fixture
def partner(tmp_path) -> Path:
    (tmp_path / "its-own.yaml").write_text(PARTNER_SCENARIO)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests/test_partner.py").write_text(PARTNER_TESTS)
    return tmp_path


RUN = ["mocksrv", "run", "--scenario", "default", "--scenario", "its-own.yaml",
       "--junit-xml", "reports/a/b.xml", "--", "pytest", "-q", "-p", "no:cacheprovider"]  # fmt: skip


def test_partner_project_runs_the_wheel_under_mocksrv_run(partner_venv, partner):
    where = in_partner(
        partner_venv, partner, "python", "-c", "import mocksrv; print(mocksrv.__file__)"
    )
    assert where.stdout.startswith(str(partner_venv)), where.stdout  # the wheel, not this checkout
    done = in_partner(partner_venv, partner, *RUN)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
    assert "mocksrv run: 2/2 expectations met" in done.stdout
    assert "met    each test verified the SUCCESS code once (2)" in done.stdout
    suite = ET.parse(partner / "reports/a/b.xml").getroot()
    assert (suite.get("tests"), suite.get("failures")) == ("3", "0")


def test_partner_project_failing_test_exits_with_pytests_code(partner_venv, partner):
    failing = PARTNER_TESTS + "\n\ndef test_fails():\n    assert 1 == 2\n"
    (partner / "tests/test_partner.py").write_text(failing)
    done = in_partner(partner_venv, partner, *RUN)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 2 passed" in done.stdout
    assert (partner / "reports/a/b.xml").is_file()


def test_wheel_validates_and_lists_bundled_scenarios(partner_venv, partner):
    done = in_partner(partner_venv, partner, "mocksrv", "validate", "agcod-sandbox-test-plan")
    assert (done.returncode, done.stdout) == (0, "ok: 1 scenario(s) valid\n"), done.stderr
    listing = in_partner(partner_venv, partner, "mocksrv", "scenarios").stdout
    names = [line.split()[0] for line in listing.splitlines()]
    assert {"default", "agcod-sandbox-test-plan", "agcod-sandbox-realistic"} <= set(names)
    script = textwrap.dedent(
        """
        from mocksrv.scenario.library import bundled_dir
        print(bundled_dir())
        """
    )
    folder = in_partner(partner_venv, partner, "python", "-c", script).stdout.strip()
    assert folder.startswith(str(partner_venv)) and folder.endswith("mocksrv/bundled")
    embedded = "from mocksrv.scenario.loader import load_default; print(load_default().name)"
    assert in_partner(partner_venv, partner, "python", "-c", embedded).stdout == "default\n"
