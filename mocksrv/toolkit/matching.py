"""Request matchers shared by faults and expectations, compiled once at scenario load."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

# the request attributes a matcher may name, besides `fields`
ATTRIBUTES = ("api", "operation", "identity", "outcome", "status", "signature_failed")
MISSING = object()


def lookup(fields: Mapping[str, Any], dotted: str) -> Any:
    """`fields[dotted]`, or the nested value at the dotted path (`value.amount`); MISSING if absent."""
    if dotted in fields:
        return fields[dotted]
    node: Any = fields
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return MISSING
        node = node[part]
    return node


def same(expected: Any, actual: Any) -> bool:
    """Equality that treats 10 and 10.0 alike and compares other scalars by their text."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual or str(expected).lower() == str(actual).lower()
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return float(expected) == float(actual)
    if isinstance(expected, int | float) and isinstance(actual, str):
        try:
            return float(actual) == float(expected)
        except ValueError:
            return False
    return bool(str(expected) == str(actual))


@dataclass(frozen=True)
class ValueTest:
    """One compiled test on a value: equals, matches (regex), in (list) or present."""

    describe: str
    test: Callable[[Any], bool]


def compile_value(spec: Any) -> ValueTest:
    """Scalars mean equality; a mapping names one operator. Raises ValueError on a bad spec."""
    if not isinstance(spec, Mapping):
        expected: Any = spec
        return ValueTest(repr(spec), lambda v: v is not MISSING and same(expected, v))
    if len(spec) != 1:
        raise ValueError("give exactly one of equals, matches, in, present")
    ((op, arg),) = spec.items()
    if op == "equals":
        return ValueTest(repr(arg), lambda v: v is not MISSING and same(arg, v))
    if op == "matches":
        try:
            rx = re.compile(str(arg))
        except re.error as exc:
            raise ValueError(f"invalid regular expression {arg!r}: {exc}") from None
        return ValueTest(
            f"matching /{arg}/", lambda v: v is not MISSING and rx.fullmatch(str(v)) is not None
        )
    if op == "in":
        if not isinstance(arg, list):
            raise ValueError("'in' takes a list")
        return ValueTest(
            f"one of {arg!r}", lambda v: v is not MISSING and any(same(a, v) for a in arg)
        )
    if op == "present":
        return ValueTest("present" if arg else "absent", lambda v: (v is not MISSING) == bool(arg))
    raise ValueError(f"unknown operator {op!r} (equals, matches, in, present)")


@dataclass
class Matcher:
    """A compiled request pattern: attribute tests plus request-field tests."""

    attributes: dict[str, ValueTest] = field(default_factory=dict)
    fields: dict[str, ValueTest] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)

    @property
    def api(self) -> str | None:
        return self.source.get("api")

    @property
    def operation(self) -> str | None:
        return self.source.get("operation")

    def differences(self, record: Mapping[str, Any]) -> list[str]:
        """Why `record` (a journal entry or request view) does not match; [] when it matches."""
        out = []
        for name, check in self.attributes.items():
            value = record.get(name, MISSING)
            if not check.test(value):
                out.append(f"{name}: expected {check.describe}, got {_shown(value)}")
        fields = record.get("fields") or {}
        for name, check in self.fields.items():
            value = lookup(fields, name)
            if not check.test(value):
                out.append(f"fields.{name}: expected {check.describe}, got {_shown(value)}")
        return out

    def matches(self, record: Mapping[str, Any]) -> bool:
        for name, check in self.attributes.items():
            if not check.test(record.get(name, MISSING)):
                return False
        fields = record.get("fields") or {}
        return all(check.test(lookup(fields, name)) for name, check in self.fields.items())

    def is_near(self, record: Mapping[str, Any]) -> bool:
        """Same API and operation (where the pattern names them): a candidate near miss."""
        for name in ("api", "operation"):
            check = self.attributes.get(name)
            if check is not None and not check.test(record.get(name, MISSING)):
                return False
        return True


def canonical_api(spec: dict[str, Any], apis: Spellings) -> None:
    """Put `spec`'s `api` (a `match:` mapping or journal filters, changed in place) in the API's
    own name, and add the operation an alias implies when none is given."""
    if "api" not in spec:
        return
    written = spec["api"]
    implied = apis.implied_operations().get(written) if isinstance(written, str) else None
    spec["api"] = _canonical(written, apis.aliases())
    if implied is not None:
        spec.setdefault("operation", implied)


def _canonical(value: Any, aliases: Mapping[str, str]) -> Any:
    """An API name for an alias, in a scalar, `equals` or `in` (other operators as written)."""
    if isinstance(value, str):
        return aliases.get(value, value)
    if isinstance(value, dict) and isinstance(value.get("equals"), str):
        return {"equals": aliases.get(value["equals"], value["equals"])}
    if isinstance(value, dict) and isinstance(value.get("in"), list):
        return {"in": list(dict.fromkeys(aliases.get(v, v) if isinstance(v, str) else v
                                          for v in value["in"]))}  # fmt: skip
    return value


def _shown(value: Any) -> str:
    return "nothing" if value is MISSING else repr(value)


class Spellings(Protocol):
    """What a matcher needs of the registry: the API names' accepted spellings."""

    def aliases(self) -> dict[str, str]: ...

    def implied_operations(self) -> dict[str, str]: ...


def compile_matcher(spec: Mapping[str, Any] | None, apis: Spellings | None = None) -> Matcher:
    """Compile a `match:` mapping; raises ValueError naming the bad key. With `apis`, an older
    spelling of an API means its name (`match.api: s3` matches the promotions API's calls, and
    `landing` its Landing operation)."""
    spec = dict(spec or {})
    if apis is not None:
        canonical_api(spec, apis)
    matcher = Matcher(source=spec)
    for name in ATTRIBUTES:
        if name in spec:
            try:
                matcher.attributes[name] = compile_value(spec[name])
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
    for name, value in (spec.get("fields") or {}).items():
        try:
            matcher.fields[str(name)] = compile_value(value)
        except ValueError as exc:
            raise ValueError(f"fields.{name}: {exc}") from None
    return matcher
