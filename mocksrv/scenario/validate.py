"""JSON-Schema validation of scenario files and the full semantic check used by `mocksrv validate`."""

from __future__ import annotations

import difflib
from functools import lru_cache
from typing import Any

from mocksrv.errors import ScenarioError
from mocksrv.scenario.loader import (
    Path_,
    Scenario,
    dotted,
    load_files,
    locate,
    merge_scenarios,
)


@lru_cache(maxsize=1)
def _validator() -> Any:
    import jsonschema

    from mocksrv.scenario.schema import scenario_schema

    schema = scenario_schema()
    return jsonschema.Draft202012Validator(schema)


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


def schema_problems(sc: Scenario) -> list[str]:
    """`file:line: key.path: message` for every schema violation, in file order."""
    problems = []
    for err in _validator().iter_errors(sc.data):
        found = [(tuple(err.absolute_path), _message(err))]
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            found = _unknown_keys(err) or found
        for path, message in found:
            where = locate(sc.lines, path, sc.source)
            problems.append((where, f"{where}: {dotted(path)}: {message}"))
    problems.sort(key=lambda p: int(p[0].rsplit(":", 1)[1]))
    return [p for _, p in problems]


def validate_paths(paths: list[str]) -> list[str]:
    """Everything `mocksrv serve` would check at start-up, without starting anything."""
    try:
        scenarios = load_files(paths)
    except ScenarioError as exc:
        return exc.problems
    return semantic_problems(scenarios)


def tolerant_semantic_problems(scenarios: list[Scenario], known: list[str]) -> list[str]:
    """The semantic problems of schema-invalid scenarios, as far as they can be checked, so that a
    user sees reference problems in the same round; `known` ones are not repeated."""
    try:
        found = semantic_problems(scenarios)
    except Exception:  # the checks assume schema-valid input; the schema problems say why
        return []
    return [p for p in found if p not in known]


def semantic_problems(scenarios: list[Scenario]) -> list[str]:
    from mocksrv.scenario.model import Problems, build_model
    from mocksrv.services import check_sections

    merged = merge_scenarios(scenarios)
    problems = Problems(merged)
    model = build_model(merged, problems)
    try:
        check_sections(merged, model)
    except ScenarioError as exc:
        problems.items.extend(exc.problems)
    return sorted(problems.items, key=problem_order)


def problem_order(problem: str) -> tuple[str, int]:
    where = problem.split(": ", 1)[0]
    file, _, line = where.rpartition(":")
    return (file, int(line) if line.isdigit() else 0)
