"""Where things are: the repository root, its scenario library, the tests' data and tools."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
DATA = ROOT / "tests" / "support" / "data"
TOOLS = ROOT / "tests" / "tools"
