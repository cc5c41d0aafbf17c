"""Docs that run: every fenced block of README.md and docs/*.md, each against a fresh server.

The convention (also in docs/toolkit.md, "Docs that run"): what happens to a block is decided by an
HTML comment on the nearest non-blank line above its opening fence, else by its language:

    <!-- doc-test: run -->            run it (the default for sh, console and python blocks)
    <!-- doc-test: serve -->          it starts `mocksrv serve`: run it, wait for the banner, stop it
    <!-- doc-test: scenario -->       a scenario (the default for yaml): `mocksrv validate` it; a
                                      fragment without `version:` is validated on top of the default
    <!-- doc-test: yaml -->           YAML that is not a scenario (CI, compose files): it must parse
    <!-- doc-test: output -->         the output of the block above: each line must appear in that
                                      block's output, in order ("..." or "…" match anything)
    <!-- doc-test: shown (what) -->   shown, not run: a synopsis, a response body (the default for
                                      json, text and untagged blocks)
    <!-- doc-test: elsewhere tests/<area>/test_x.py::test_name -->   run by that test
    <!-- doc-test: skip (why) -->     cannot run here, and why
    <!-- recipe: NAME -->             a client recipe of docs/promotions.md: tests/promotions/test_recipes_*.py
                                      run it as printed (the test checks one of them names it)

Running means: a fresh server on a free port (the docs' http://127.0.0.1:4599 and localhost:4599
point to it), a fresh empty folder as the working directory with `scenarios/`, `examples/` and
`.venv` (this interpreter's environment) linked in, no MOCKSRV_* or AWS_* variables, and the venv's
bin/ first on PATH (`mocksrv`, `aws`, `python` as after `source .venv/bin/activate`). sh blocks run
under bash -e; console blocks run their `$ ` lines and do not compare the rest.

`pytest -v tests/toolkit/test_docs_run.py` lists every block: test_block_runs[...] for those run,
test_block_not_run[...] with the reason for the others.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.support.paths import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARKER = re.compile(r"<!--\s*doc-test:\s*([a-z]+)\s*(.*?)\s*-->")
FENCE = re.compile(r"^```([\w-]*)\s*$")
DEFAULTS = {"sh": "run", "bash": "run", "console": "run", "python": "run", "yaml": "scenario"}
RUN_KINDS = {"run", "serve", "scenario", "yaml", "output"}
NOT_RUN_KINDS = {"shown", "elsewhere", "skip", "recipe"}
# a client recipe of docs/promotions.md (`<!-- recipe: NAME -->` above it): the recipe tests
# (tests/promotions/test_recipes_*.py) run it as printed, with the server's address swapped in
RECIPE = re.compile(r"<!--\s*recipe:\s*([a-z0-9-]+)\s*-->")
LOCAL = re.compile(r"(?:http://)?(?:127\.0\.0\.1|localhost):4599")
TIMEOUT = 120


@dataclass
class Block:
    file: Path
    line: int  # of the opening fence
    lang: str
    body: str
    kind: str
    arg: str
    previous: Block | None  # the block above in the same file

    @property
    def id(self) -> str:
        return f"{self.file.relative_to(ROOT)}:{self.line}"


def _blocks_of(path: Path) -> list[Block]:
    lines = path.read_text().split("\n")
    out: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        above = next((lines[k] for k in range(i - 1, -1, -1) if lines[k].strip()), "")
        marker = MARKER.search(above)
        lang = m.group(1)
        kind, arg = (
            (marker.group(1), marker.group(2)) if marker else (DEFAULTS.get(lang, "shown"), "")
        )
        if not marker and (named := RECIPE.search(above)):
            kind, arg = "recipe", named.group(1)
        if not marker and kind == "shown":
            arg = "(a response, a synopsis or a listing)"
        body = "\n".join(lines[i + 1 : end]) + "\n"
        out.append(Block(path, i + 1, lang, body, kind, arg, out[-1] if out else None))
        i = end + 1
    return out


ALL = [b for doc in DOCS for b in _blocks_of(doc)]


def test_every_block_has_a_known_kind():
    odd = [f"{b.id}: {b.kind}" for b in ALL if b.kind not in RUN_KINDS | NOT_RUN_KINDS]
    assert not odd, f"unknown doc-test kinds: {odd}"
    assert len(ALL) > 20, "the docs lost their examples"


@pytest.mark.parametrize(
    "block", [b for b in ALL if b.kind in NOT_RUN_KINDS], ids=lambda b: f"{b.id} {b.kind} {b.arg}"
)
def test_block_not_run(block: Block):
    """Listed with its reason; `elsewhere` names a test that exists."""
    if block.kind == "elsewhere":
        file, _, name = block.arg.partition("::")
        assert name and f"def {name}(" in (ROOT / file).read_text(), block.arg
    elif block.kind == "recipe":
        tests = "".join(p.read_text() for p in (ROOT / "tests").rglob("test_recipes_*.py"))
        assert f'recipe("{block.arg}"' in tests, f"{block.id}: no recipe test runs {block.arg!r}"
    else:
        assert re.fullmatch(r"\(.+\)", block.arg), f"{block.id}: give the reason in parentheses"


# --- running ----------------------------------------------------------------------------------
def workdir(tmp_path: Path) -> Path:
    for name in ("scenarios", "examples"):
        (tmp_path / name).symlink_to(ROOT / name)
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    return tmp_path


def environment(cwd: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOCKSRV_", "AWS_"))}
    env["XDG_DATA_HOME"] = str(cwd / ".data")  # the TLS listener's local CA: not the real home
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("VIRTUAL_ENV", None)
    return env


def console_split(body: str) -> tuple[str, str]:
    """A console block's `$ ` lines (a trailing backslash continues one) and the rest (output)."""
    commands, output, going = [], [], False
    for line in body.splitlines():
        if line.startswith("$ ") or going:
            cmd = line[2:] if line.startswith("$ ") else line
            commands.append(cmd)
            going = cmd.endswith("\\")
        else:
            output.append(line)
    return "\n".join(commands) + "\n", "\n".join(output) + "\n"


def console_commands(body: str) -> str:
    return console_split(body)[0]


def run_block(block: Block, url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    body = LOCAL.sub(url, block.body)
    if block.lang == "python":
        command = [sys.executable, "-c", body]
    elif block.lang == "console":  # failures are part of what a console block shows
        command = ["bash", "-c", "exec 2>&1\n" + console_commands(body)]
    else:
        command = ["bash", "-e", "-o", "pipefail", "-c", body]
    return subprocess.run(
        command, cwd=cwd, env=environment(cwd), capture_output=True, text=True, timeout=TIMEOUT
    )


def run_serve(block: Block, cwd: Path) -> str:
    """Start the block's `mocksrv serve` on a free port, read the banner, stop it."""
    script = console_commands(block.body) if block.lang == "console" else block.body
    script = re.sub(r"--port\s+\d+", "--port 0", script)
    script = re.sub(r"--tls-port\s+\d+", "--tls-port 0", script)
    script = re.sub(r"\bmocksrv serve\b(?!.*--port)", "mocksrv serve --port 0", script)
    proc = subprocess.Popen(
        ["bash", "-e", "-c", script], cwd=cwd, env=environment(cwd), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    banner = ""
    try:
        assert proc.stdout is not None
        while "Scenario:" not in banner:
            line = proc.stdout.readline()
            assert line, f"{block.id}: the server stopped before its banner:\n{banner}"
            banner += line
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
    return banner


def check_scenario(block: Block, cwd: Path) -> None:
    (cwd / "doc.yaml").write_text(block.body)
    fragment = not re.search(r"^version:", block.body, re.M)
    if fragment:
        (cwd / "doc.yaml").write_text("version: 1\n" + block.body)
    files = ["default", "doc.yaml"] if fragment else ["doc.yaml"]
    done = subprocess.run(
        [sys.executable, "-m", "mocksrv", "validate", "--merge", *files],
        cwd=cwd, env=environment(cwd), capture_output=True, text=True, timeout=TIMEOUT,
    )  # fmt: skip
    assert done.returncode == 0, f"{block.id}: {done.stdout}{done.stderr}"


def expected_lines(text: str) -> list[re.Pattern[str]]:
    out = []
    for line in text.splitlines():
        if line.strip() in ("", "...", "…"):
            continue
        parts = re.split(r"\.\.\.|…", re.sub(r"(127\.0\.0\.1|localhost):4599", r"\1:PORT", line))
        words = [" ".join(p.split()) for p in parts]  # runs of blanks compare as one
        out.append(re.compile(".*".join(re.escape(w) for w in words).replace("PORT", r"\d+")))
    return out


def check_output(expected: str, actual: str, where: str) -> None:
    lines = [" ".join(line.split()) for line in actual.splitlines()]
    at = 0
    for pattern in expected_lines(expected):
        while at < len(lines) and not pattern.search(lines[at]):
            at += 1
        assert at < len(lines), f"{where}: {pattern.pattern!r} not in the output:\n{actual}"
        at += 1


@pytest.mark.parametrize(
    "block", [b for b in ALL if b.kind in RUN_KINDS], ids=lambda b: f"{b.id} {b.kind}"
)
def test_block_runs(block: Block, tmp_path: Path, server_factory):
    cwd = workdir(tmp_path)
    if block.kind == "scenario":
        check_scenario(block, cwd)
    elif block.kind == "yaml":
        assert yaml.safe_load(block.body) is not None
    elif block.kind == "serve":
        banner = run_serve(block, cwd)
        assert " listening on http://127.0.0.1:" in banner
        if block.lang == "console":
            check_output(console_split(block.body)[1], banner, block.id)
    else:
        source = block.previous if block.kind == "output" else block
        assert source is not None and source.kind in ("run", "serve"), f"{block.id}: nothing above"
        if source.kind == "serve":
            check_output(block.body, run_serve(source, cwd), block.id)
            return
        srv = server_factory()
        done = run_block(source, srv.url, cwd)
        if source.lang != "console":  # a console block shows its failures as output
            assert done.returncode == 0, (
                f"{source.id} exited {done.returncode}:\n{done.stdout}{done.stderr}"
            )
        if block.kind == "output":
            check_output(block.body, done.stdout, block.id)
        elif block.lang == "console":
            check_output(console_split(block.body)[1], done.stdout, block.id)
