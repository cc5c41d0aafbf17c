"""Every file of this checkout that the README and docs/ name in backticks exists (a moved test
or module leaves no stale pointer behind)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]
NAMED = re.compile(r"`((?:tests|bench|docs|mocksrv|scenarios|\.ci)/[A-Za-z0-9_./-]+)(?:::[^`]*)?`")
# not files of a clean checkout: the installed package's, and what a bench run writes
ELSEWHERE = ("mocksrv/bundled/", "bench/.cache/")


def test_every_named_path_exists():
    named = {
        (doc.name, m.group(1))
        for doc in DOCS
        if doc.is_file()
        for m in NAMED.finditer(doc.read_text(encoding="utf-8"))
    }
    assert len(named) > 20  # the pattern finds the docs' paths at all
    missing = sorted(
        (doc, p) for doc, p in named if not p.startswith(ELSEWHERE) and not (ROOT / p).exists()
    )
    assert not missing, missing
