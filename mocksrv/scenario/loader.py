"""Scenario files: YAML parsing with line numbers, schema validation, merging of several files."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import yaml

from mocksrv.errors import ScenarioError

if TYPE_CHECKING:
    from mocksrv.scenario.validate import Validator

Path_ = tuple[str | int, ...]
DEFAULT_NAME = "default.yaml"


MAX_DEPTH = 64  # nesting levels of mappings and sequences
# nodes that aliases may add when expanded (`*a` re-walks what `&a` names): a few shared blocks
# cost nothing, an alias bomb (each level doubling the one below) is refused before it grows
MAX_ALIAS_EXPANSION = 10_000
MAX_FILE_BYTES = 8 * 1024 * 1024  # a scenario file larger than this is refused, unread


class _TooComplex(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line, self.message = line, message


class _Loader(yaml.SafeLoader):
    """SafeLoader without timestamp resolution: instants stay strings and are parsed on purpose.

    Composing refuses nesting deeper than MAX_DEPTH (PyYAML composes recursively)."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                line = self.peek_event().start_mark.line + 1
                raise _TooComplex(line, f"nested deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass
class Scenario:
    """One parsed scenario file: its data and where each key path sits in the file."""

    source: str
    data: dict[str, Any]
    lines: dict[Path_, tuple[str, int]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.data.get("name") or Path(self.source).stem)


def dotted(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top)"


def locate(lines: dict[Path_, tuple[str, int]], path: Path_, default: str) -> str:
    """`file:line` of the deepest known prefix of `path`."""
    for end in range(len(path), -1, -1):
        hit = lines.get(tuple(path[:end]))
        if hit:
            return f"{hit[0]}:{hit[1]}"
    return f"{default}:1"


def _walk(node: yaml.Node, path: Path_, src: str, lines: dict, problems: list[str]) -> None:
    lines[path] = (src, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                problems.append(
                    f"{src}:{key_node.start_mark.line + 1}: {dotted(path + (key,))}: duplicate key"
                )
            seen.add(key)
            lines[path + (key,)] = (src, key_node.start_mark.line + 1)
            _walk(value_node, path + (key,), src, lines, problems)
            lines[path + (key,)] = (src, key_node.start_mark.line + 1)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, path + (i,), src, lines, problems)


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """How many nodes `node` stands for once aliases are expanded (linear time: memoised)."""
    known = memo.get(id(node))
    if known == 0:  # still being counted: an alias inside its own anchor
        raise _TooComplex(node.start_mark.line + 1, "an alias refers to a node that contains it")
    if known is not None:
        return known
    memo[id(node)] = 0
    size = 1
    if isinstance(node, yaml.MappingNode):
        size += sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    elif isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(item, memo) for item in node.value)
    memo[id(node)] = size
    return size


def _check_expansion(node: yaml.Node) -> None:
    memo: dict[int, int] = {}
    expanded = _expanded_size(node, memo)
    if expanded - len(memo) > MAX_ALIAS_EXPANSION:
        raise _TooComplex(
            node.start_mark.line + 1,
            f"aliases expand to more than {MAX_ALIAS_EXPANSION} extra nodes",
        )


def _compose(text: str) -> tuple[yaml.Node | None, Any]:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        _check_expansion(node)
        return node, loader.construct_document(node)
    finally:
        loader.dispose()


def parse_text(text: str, source: str) -> Scenario:
    """Parse YAML text; syntax errors and non-mapping documents raise ScenarioError with a line."""
    try:
        node, data = _compose(text)
    except _TooComplex as exc:
        raise ScenarioError([f"{source}:{exc.line}: (yaml): {exc.message}"]) from None
    except RecursionError:  # nesting inside a flow collection the depth check did not see
        raise ScenarioError([f"{source}:1: (yaml): nested too deeply"]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise ScenarioError([f"{source}:{line}: (yaml): {exc.problem or exc}"]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([f"{source}:1: (yaml): {exc}"]) from None
    if not isinstance(data, dict):
        raise ScenarioError([f"{source}:1: (top): a scenario must be a YAML mapping"])
    lines: dict[Path_, tuple[str, int]] = {}
    problems: list[str] = []
    if node is not None:
        _walk(node, (), source, lines, problems)
    if problems:
        raise ScenarioError(problems)
    return Scenario(source=source, data=data, lines=lines)


def read_file(path: str | os.PathLike[str]) -> Scenario:
    p = Path(path)
    try:
        if p.stat().st_size > MAX_FILE_BYTES:  # refused unread (a FIFO or device reads capped)
            raise ScenarioError([f"{p}: larger than {MAX_FILE_BYTES} bytes"])
        with p.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ScenarioError([f"{p}: cannot read: {exc.strerror}"]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ScenarioError([f"{p}: larger than {MAX_FILE_BYTES} bytes"])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ScenarioError([f"{p}:{line}: (file): not UTF-8: {exc.reason}"]) from None
    return parse_text(text, str(p))


def expand_paths(paths: list[str]) -> list[Path]:
    """Files as given (or bundled scenarios by name); directories expand to their *.yaml / *.yml
    files in name order."""
    from mocksrv.scenario.library import resolve

    out: list[Path] = []
    for raw in paths:
        p = Path(resolve(raw))
        if p.is_dir():
            out.extend(sorted(q for q in p.iterdir() if q.suffix in (".yaml", ".yml")))
        else:
            out.append(p)
    return out


class Checks(NamedTuple):
    """What a loaded scenario is checked with, given by the registry (this package knows no API):
    the composed schema, and the semantic checks of every section."""

    schema: Validator
    semantic: Callable[[list[Scenario]], list[str]]

    def raise_problems(self, scenarios: list[Scenario], read_problems: list[str]) -> None:
        """All problems at once: reading, schema and, when every file parsed, semantic ones (as
        far as schema-invalid input can be checked), in file order."""
        from mocksrv.scenario.validate import problem_order

        problems = list(read_problems)
        for sc in scenarios:
            problems.extend(self.schema.problems(sc))
        if not problems:
            return
        if not read_problems:
            try:
                found = self.semantic(scenarios)
            except Exception:  # the checks assume schema-valid input; the schema says why
                found = []
            problems += [p for p in found if p not in problems]
            problems.sort(key=problem_order)
        raise ScenarioError(problems)


def load_files(paths: list[str], checks: Checks) -> list[Scenario]:
    """Read and schema-validate every file (and the files they extend, first); all problems of
    all files, schema and semantic, are raised together."""
    files = expand_paths(paths)
    if not files:
        raise ScenarioError([f"{', '.join(paths)}: no scenario files found"])
    reader = _Reader()
    for f in files:
        reader.add(f, ())
    checks.raise_problems(reader.scenarios, reader.problems)
    return reader.scenarios


def load_text(text: str, source: str, checks: Checks) -> list[Scenario]:
    """A scenario given as text (posted to the admin API), after the bundled scenarios it
    `extends`; it names no file, so it may extend bundled scenarios only."""
    from mocksrv.scenario.library import bundled

    sc = parse_text(text, source)
    reader = _Reader()
    known = bundled()
    for name, _ in _extends(sc):
        if name in known:
            reader.add(known[name][0], ())
        else:
            reader.problems.append(
                f"{locate(sc.lines, ('extends',), source)}: extends: a posted scenario may extend "
                f"only bundled scenarios ({', '.join(known)}), not {name!r}"
            )
    reader.scenarios.append(sc)
    checks.raise_problems(reader.scenarios, reader.problems)
    return reader.scenarios


class _Reader:
    """Reads files in load order: what a file `extends` comes before it, each file once."""

    def __init__(self) -> None:
        self.scenarios: list[Scenario] = []
        self.problems: list[str] = []
        self._seen: set[Path] = set()

    def add(self, path: Path, chain: tuple[Path, ...]) -> None:
        from mocksrv.scenario.library import bundled, unknown_message

        key = path.resolve()
        if key in chain:
            cycle = " -> ".join(str(p) for p in (*chain, key))
            self.problems.append(f"{path}:1: extends: a scenario cannot extend itself ({cycle})")
            return
        if key in self._seen:
            return
        if not path.exists():
            self.problems.append(f"{path}: {unknown_message(str(path))}")
            return
        try:
            sc = read_file(path)
        except ScenarioError as exc:
            self.problems.extend(exc.problems)
            return
        for name, base in _extends(sc):
            if base.exists():
                self.add(base, (*chain, key))
            else:
                where = locate(sc.lines, ("extends",), sc.source)
                names = ", ".join(bundled())
                self.problems.append(
                    f"{where}: extends: {name!r} is neither a file next to this one nor a bundled "
                    f"scenario (bundled: {names})"
                )
        self._seen.add(key)
        self.scenarios.append(sc)


def _extends(sc: Scenario) -> list[tuple[str, Path]]:
    """What `extends:` names, and its file: a path relative to the file, or a bundled name."""
    from mocksrv.scenario.library import resolve

    given = sc.data.get("extends") or []
    names = [given] if isinstance(given, str) else [n for n in given if isinstance(n, str)]
    here = Path(sc.source).parent
    return [(n, here / n if (here / n).exists() else Path(resolve(n))) for n in names]


def default_text() -> str:
    from mocksrv.scenario.library import bundled_dir

    return (bundled_dir() / DEFAULT_NAME).read_text("utf-8")


def load_default() -> Scenario:
    """The embedded default scenario: the bundled default.yaml (scenarios/default.yaml, installed
    with the package as mocksrv/bundled/default.yaml).

    Its schema check is done by the test suite (the file ships with the package and cannot change
    after install), which keeps jsonschema out of the default start-up; the semantic checks that
    build the services still run.
    """
    return parse_text(default_text(), "<embedded>/default.yaml")


@dataclass
class Merged:
    """Several scenario files as one document, with each key path's origin."""

    data: dict[str, Any]
    lines: dict[Path_, tuple[str, int]]
    sources: list[str]

    def where(self, path: Path_) -> str:
        return locate(self.lines, path, self.sources[0] if self.sources else "<scenario>")


def _merge(a: Any, b: Any, path: Path_, la: dict, lb: dict, out_lines: dict) -> Any:
    if isinstance(a, dict) and isinstance(b, dict):
        result = dict(a)
        for k, v in b.items():
            if k in result:
                result[k] = _merge(result[k], v, path + (k,), la, lb, out_lines)
            else:
                result[k] = v
                _copy_lines(lb, path + (k,), path + (k,), out_lines)
        return result
    if isinstance(a, list) and isinstance(b, list):
        offset = len(a)
        for i in range(len(b)):
            _copy_lines(lb, path + (i,), path + (offset + i,), out_lines)
        return a + b
    _copy_lines(lb, path, path, out_lines)
    return b


def _copy_lines(src: dict, old: Path_, new: Path_, out: dict) -> None:
    n = len(old)
    for key, where in src.items():
        if key[:n] == old:
            out[new + key[n:]] = where


def merge_scenarios(scenarios: list[Scenario]) -> Merged:
    """Later files extend earlier ones: mappings merge, lists concatenate, scalars override."""
    data: dict[str, Any] = {}
    lines: dict[Path_, tuple[str, int]] = {}
    for sc in scenarios:
        if not data:
            data = dict(sc.data)
            lines = dict(sc.lines)
        else:
            data = _merge(data, sc.data, (), lines, sc.lines, lines)
    return Merged(data=data, lines=lines, sources=[sc.source for sc in scenarios])
