"""AGCOD domain modules stay free of HTTP frameworks; every module opens with a docstring."""

from __future__ import annotations

import ast

import pytest

from tests.support.paths import ROOT

PACKAGE = ROOT / "mocksrv" / "services" / "agcod"
DOMAIN = ["config.py", "models.py", "rules.py", "shapes.py", "exceptions.py"]


def imported(path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("name", DOMAIN)
def test_domain_modules_do_not_import_http_frameworks(name):
    assert not imported(PACKAGE / name) & {"flask", "werkzeug"}


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_modules_are_small_and_documented(path):
    text = path.read_text()
    assert ast.get_docstring(ast.parse(text)), path.name
    assert len(text.splitlines()) < 400
