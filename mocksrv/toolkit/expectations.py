"""Expectations: counted request patterns, verified with near misses (requests that almost matched)."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from mocksrv.toolkit.matching import Matcher, Spellings, compile_matcher

SAMPLES = 5  # near misses and matches kept per expectation
SHOWN = ("requestId", "time", "api", "operation", "identity", "outcome", "status", "fields")


@dataclass
class Count:
    """How many matching requests are expected: at_least / at_most / exactly."""

    at_least: int | None = None
    at_most: int | None = None

    @classmethod
    def parse(cls, spec: dict[str, Any] | None) -> Count:
        spec = spec or {"at_least": 1}
        if "exactly" in spec:
            return cls(int(spec["exactly"]), int(spec["exactly"]))
        return cls(spec.get("at_least"), spec.get("at_most"))

    def ok(self, n: int) -> bool:
        low = self.at_least is None or n >= self.at_least
        return low and (self.at_most is None or n <= self.at_most)

    def spec(self) -> dict[str, int]:
        """The count as a scenario writes it (`mocksrv run` adds up tallies of several tenants
        and checks the sum against it)."""
        found = {"at_least": self.at_least, "at_most": self.at_most}
        return {k: v for k, v in found.items() if v is not None}

    def describe(self) -> str:
        if self.at_least is not None and self.at_least == self.at_most:
            return f"exactly {self.at_least}"
        parts = []
        if self.at_least is not None:
            parts.append(f"at least {self.at_least}")
        if self.at_most is not None:
            parts.append(f"at most {self.at_most}")
        return " and ".join(parts) or "any number"


@dataclass
class Expectation:
    """One expectation and its running tally since the last journal reset."""

    name: str
    matcher: Matcher
    count: Count
    source: str = "scenario"
    spec: dict[str, Any] = field(default_factory=dict, compare=False)
    matched: int = 0
    near_misses: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=SAMPLES))
    samples: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=SAMPLES))

    def observe(self, entry: dict[str, Any]) -> None:
        if self.matcher.matches(entry):
            self.matched += 1
            self.samples.append(_shown(entry))
        elif self.matcher.is_near(entry):
            near = _shown(entry)
            near["differences"] = self.matcher.differences(entry)
            self.near_misses.append(near)

    def reset(self) -> None:
        self.matched = 0
        self.near_misses.clear()
        self.samples.clear()

    def report(self) -> dict[str, Any]:
        met = self.count.ok(self.matched)
        out: dict[str, Any] = {
            "name": self.name,
            "met": met,
            "expected": self.count.describe(),
            "count": self.count.spec(),
            "actual": self.matched,
            "match": self.matcher.source,
            "source": self.source,
        }
        if not met:
            out["message"] = (
                f"expected {self.count.describe()} matching request(s), got {self.matched}"
            )
            # too few: show what almost matched; too many: show what did match
            too_few = self.count.at_least is not None and self.matched < self.count.at_least
            out["nearMisses" if too_few else "matches"] = list(
                self.near_misses if too_few else self.samples
            )
        return out


def combine(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """One verification from several tenants' (`mocksrv run` with tests in tenants of their
    own): the first report's expectations, each scenario expectation's tally the sum of the
    tallies of that name in every report, met or not by its count."""
    items = []
    for item in reports[0]["expectations"]:
        if item["source"] != "scenario":
            items.append(item)
            continue
        same = [
            other
            for report in reports[1:]
            for other in report["expectations"]
            if other["name"] == item["name"] and other["source"] == "scenario"
        ]
        items.append(_summed(item, same))
    unmet = [r["name"] for r in items if not r["met"]]
    return {"met": not unmet, "total": len(items), "unmet": unmet, "expectations": items}


def _summed(item: dict[str, Any], others: list[dict[str, Any]]) -> dict[str, Any]:
    count = Count.parse(item.get("count"))
    total = item["actual"] + sum(o["actual"] for o in others)
    out = {k: v for k, v in item.items() if k not in ("message", "nearMisses", "matches")}
    out.update(actual=total, met=count.ok(total))
    if not out["met"]:
        out["message"] = f"expected {count.describe()} matching request(s), got {total}"
        key = "nearMisses" if count.at_least is not None and total < count.at_least else "matches"
        out[key] = [s for r in (item, *others) for s in r.get(key, [])][:SAMPLES]
    return out


def _shown(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: entry.get(k) for k in SHOWN}


def build(
    spec: dict[str, Any],
    index: int,
    source: str = "scenario",
    apis: Spellings | None = None,
) -> Expectation:
    """One expectation from its scenario/admin mapping; raises ValueError on a bad pattern."""
    matcher = compile_matcher(spec.get("match"), apis)
    name = spec.get("name") or _default_name(matcher, index)
    count = Count.parse(spec.get("count"))
    if count.at_least is not None and count.at_most is not None and count.at_least > count.at_most:
        raise ValueError("count: at_least is greater than at_most")
    return Expectation(name=str(name), matcher=matcher, count=count, source=source, spec=dict(spec))


def _default_name(matcher: Matcher, index: int) -> str:
    parts = [str(v) for k, v in matcher.source.items() if k != "fields"]
    parts += [f"{k}={v}" for k, v in (matcher.source.get("fields") or {}).items()]
    return f"expectation {index + 1}" + (f" ({' '.join(parts)})" if parts else "")


class ExpectationSet:
    """The scenario's expectations plus those added at run time; fed by the journal."""

    def __init__(self, items: Iterable[Expectation] = ()) -> None:
        self._lock = threading.Lock()
        self.items: list[Expectation] = list(items)
        self.on_change: Callable[[ExpectationSet], None] | None = None  # durable state

    def runtime_specs(self) -> list[dict[str, Any]]:
        with self._lock:
            return [i.spec for i in self.items if i.source != "scenario"]

    def observe(self, entry: dict[str, Any]) -> None:
        with self._lock:
            for item in self.items:
                item.observe(entry)

    def add(self, item: Expectation, history: Iterable[dict[str, Any]]) -> None:
        """Add one at run time; it is first tallied against the journal so far."""
        for entry in history:
            item.observe(entry)
        with self._lock:
            self.items.append(item)
        if self.on_change is not None:
            self.on_change(self)

    def remove_added(self) -> int:
        with self._lock:
            before = len(self.items)
            self.items = [i for i in self.items if i.source == "scenario"]
            removed = before - len(self.items)
        if removed and self.on_change is not None:
            self.on_change(self)
        return removed

    def reset_counts(self) -> None:
        with self._lock:
            for item in self.items:
                item.reset()

    def verify(self) -> dict[str, Any]:
        with self._lock:
            reports = [item.report() for item in self.items]
        unmet = [r["name"] for r in reports if not r["met"]]
        return {"met": not unmet, "total": len(reports), "unmet": unmet, "expectations": reports}
