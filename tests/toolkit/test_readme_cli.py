"""The README's command and option tables, checked against the real command line's help."""

from __future__ import annotations

import re
import subprocess

from tests.support.cli import PY
from tests.support.paths import ROOT


def help_text(*command: str) -> str:
    done = subprocess.run([PY, "-m", "mocksrv", *command, "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return " ".join(done.stdout.split())


def options_of(command: str) -> dict[str, tuple[str, str | None]]:
    """--flag -> (its environment variable, the default the help names)."""
    pattern = r"(--[a-z0-9-]+)(?: [A-Z|{][^ ]*)? (?:(?! --)[^\[])*\[(MOCKSRV_\w+)(?:; default ([^\]]+))?\]"
    found = re.findall(pattern, help_text(command))
    return {flag: (env, default or None) for flag, env, default in found}


def readme_section() -> str:
    text = (ROOT / "README.md").read_text()
    return text[text.index("## Command line") : text.index("A scenario that does not validate")]


def table_rows(section: str, header: str) -> list[list[str]]:
    lines = section[section.index(header) :].splitlines()[2:]
    rows = []
    for line in lines:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows


def test_the_command_table_names_every_command():
    listed = re.search(r"\{([a-z,]+)\}", help_text()).group(1).split(",")  # type: ignore[union-attr]
    rows = table_rows(readme_section(), "| command | what it does |")
    documented = [re.match(r"`mocksrv ([a-z]+)", row[0]).group(1) for row in rows]  # type: ignore[union-attr]
    assert sorted(documented) == sorted(listed)


def test_the_option_table_matches_serve_and_run():
    serve, run = options_of("serve"), options_of("run")
    assert len(serve) >= 15 and set(serve) <= set(run)
    rows = table_rows(readme_section(), "| option | environment | default | meaning |")
    table = {row[0].strip("`").split(" ")[0]: row for row in rows}
    assert set(table) == set(run), set(table) ^ set(run)
    for flag, (env, default) in run.items():
        row = table[flag]
        assert row[1] == f"`{env}`", flag
        if flag not in serve:
            assert row[3].startswith("`run` only"), flag
        for shown in {serve.get(flag, (env, None))[1], default} - {None}:
            assert f"`{shown}`" in row[2], (flag, shown, row[2])
