"""JSON-Schema validation of scenario files, with messages that say where and what to write."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mocksrv.scenario.loader import Path_, Scenario


def _unknown_keys(err: Any) -> list[tuple[Path_, str]]:
    """One (path, message) per unknown key, with the closest allowed key if one is close."""
    allowed = list((err.schema.get("properties") or {}).keys())
    out = []
    for key in sorted(set(err.instance) - set(allowed)):
        near = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
        hint = f"; did you mean {near[0]!r}?" if near else f" (allowed: {', '.join(allowed)})"
        out.append(((*err.absolute_path, key), f"unknown key {key!r}{hint}"))
    return out


def _message(err: Any) -> str:
    if err.validator == "type" and err.instance is not None and not isinstance(err.instance, str):
        want = err.validator_value
        if want == "string" or (isinstance(want, list) and "string" in want):
            return f"{err.instance!r} is not a string (quote it in YAML)"
    if err.validator in ("oneOf", "anyOf"):
        best = min(err.context, key=lambda e: len(e.absolute_path), default=None)
        if best is not None:
            return best.message
    return str(err.message)


class Validator:
    """The scenario schema (composed by the registry), compiled when first used: jsonschema is
    not imported by a start-up on the embedded default."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self._compiled: Any = None

    def problems(self, sc: Scenario) -> list[str]:
        """`file:line: key.path: message` for every schema violation, in file order."""
        from mocksrv.scenario.loader import dotted, locate

        if self._compiled is None:
            import jsonschema

            self._compiled = jsonschema.Draft202012Validator(self.schema)
        problems = []
        for err in self._compiled.iter_errors(sc.data):
            found = [(tuple(err.absolute_path), _message(err))]
            if err.validator == "additionalProperties" and isinstance(err.instance, dict):
                found = _unknown_keys(err) or found
            for path, message in found:
                where = locate(sc.lines, path, sc.source)
                problems.append((where, f"{where}: {dotted(path)}: {message}"))
        problems.sort(key=lambda p: int(p[0].rsplit(":", 1)[1]))
        return [p for _, p in problems]


def problem_order(problem: str) -> tuple[str, int]:
    where = problem.split(": ", 1)[0]
    file, _, line = where.rpartition(":")
    return (file, int(line)) if line.isdigit() else (where, 0)  # `file: ...`: the whole file
