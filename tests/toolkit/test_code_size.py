"""Size limits on mocksrv's own code: no module over 400 lines, no function or method over 60.

A long module or function is where the next change gets hard to review; the limits are checked
with `ast` over every `mocksrv/**/*.py`, and each offender is listed as `path:line name (N lines)`.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "mocksrv"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _functions(tree: ast.AST) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Every function and method with its dotted name (`Class.method`, `outer.inner`)."""
    found: list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]] = []

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                found.append((prefix + child.name, child))
                walk(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                walk(child, f"{prefix}{child.name}.")
            else:
                walk(child, prefix)

    walk(tree, "")
    return found


def offenders(package: Path = PACKAGE) -> list[str]:
    """`path:line name (N lines)` for each module and function over its limit."""
    found = []
    for path in sorted(package.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        rel = path.relative_to(package.parent).as_posix()
        lines = len(text.splitlines())
        if lines > MAX_MODULE_LINES:
            found.append(f"{rel}:1 <module> ({lines} lines)")
        for name, fn in _functions(ast.parse(text, filename=rel)):
            length = (fn.end_lineno or fn.lineno) - fn.lineno + 1
            if length > MAX_FUNCTION_LINES:
                found.append(f"{rel}:{fn.lineno} {name} ({length} lines)")
    return found


def test_no_module_or_function_over_the_limits():
    found = offenders()
    assert not found, (
        f"over {MAX_MODULE_LINES} lines a module or {MAX_FUNCTION_LINES} a function:\n"
        + "\n".join(found)
    )


def test_the_check_sees_a_long_function_and_a_long_module(tmp_path):
    pkg = tmp_path / "mocksrv"
    (pkg / "sub").mkdir(parents=True)
    body = "".join(f"        x{i} = {i}\n" for i in range(60))
    (pkg / "sub" / "m.py").write_text("class C:\n    def long(self):\n" + body)
    (pkg / "big.py").write_text("x = 1\n" * 401)
    (pkg / "ok.py").write_text("def short():\n" + "    y = 1\n" * 59)
    assert offenders(pkg) == [
        "mocksrv/big.py:1 <module> (401 lines)",
        "mocksrv/sub/m.py:2 C.long (61 lines)",
    ]
