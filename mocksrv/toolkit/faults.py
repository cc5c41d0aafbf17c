"""Fault injection: rules matched on every call after auth and parsing, before business logic."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from mocksrv.toolkit.journal import FAULT_KEY
from mocksrv.toolkit.matching import Matcher, Spellings, compile_matcher

if TYPE_CHECKING:
    from mocksrv.api import Api
    from mocksrv.call import Call
    from mocksrv.http import Response

TRANSPORTS = ("connection_reset", "empty_response", "truncated_response")
TRANSPORT_KEY = "mocksrv.transport"  # environ key read by toolkit.transport after the handler
ACTIONS = ("error", "throttle", "transport", "commit_then_fail")


class Apis(Spellings, Protocol):
    """What faults need of the registry: API names, their spellings, each API's error names."""

    def api(self, spelling: str) -> Api | None: ...

    @property
    def names(self) -> tuple[str, ...]: ...


@dataclass
class Fault:
    """One compiled fault rule and its trigger state (calls seen, times fired, seeded RNG)."""

    id: str
    name: str
    matcher: Matcher
    spec: dict[str, Any]
    latency: tuple[float, float] | None = None  # seconds, min and max
    error: str | None = None
    throttle: bool = False
    transport: str | None = None
    commit_then_fail: str | None = None
    nth: int | None = None
    after: int = 0
    times: int | None = None
    probability: float | None = None
    source: str = "scenario"
    priority: int = 0
    seen: int = 0
    fired: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def triggers(self) -> bool:
        """Called for a matching call, under the set's lock: does the fault fire this time?"""
        self.seen += 1
        if self.nth is not None and self.seen != self.nth:
            return False
        if self.seen <= self.after:
            return False
        if self.times is not None and self.fired >= self.times:
            return False
        if self.probability is not None and self.rng.random() >= self.probability:
            return False
        self.fired += 1
        return True

    def delay(self) -> float:
        if self.latency is None:
            return 0.0
        low, high = self.latency
        return low if low == high else self.rng.uniform(low, high)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "source": self.source, "seen": self.seen,
                "fired": self.fired, **self.spec}  # fmt: skip


def _latency(spec: Any) -> tuple[float, float]:
    if isinstance(spec, dict):
        low, high = float(spec["min"]), float(spec["max"])
        if low > high:
            raise ValueError("latency_ms: min is greater than max")
        return low / 1000, high / 1000
    return float(spec) / 1000, float(spec) / 1000


def build(spec: dict[str, Any], index: int, apis: Apis, source: str = "scenario") -> Fault:
    """One fault from its scenario/admin mapping; raises ValueError with the offending key."""
    chosen = [a for a in ACTIONS if spec.get(a) not in (None, False)]
    if len(chosen) > 1:
        raise ValueError(f"give at most one of {', '.join(ACTIONS)} (got {', '.join(chosen)})")
    if not chosen and spec.get("latency_ms") is None:
        raise ValueError(f"a fault needs an action: latency_ms or one of {', '.join(ACTIONS)}")
    matcher = compile_matcher(spec.get("match"), apis)
    api = apis.api(str(matcher.api)) if matcher.api is not None else None
    error = spec.get("error")
    if error is not None:
        _check_error(api, str(error), matcher.operation)
    if spec.get("throttle") and api is None:
        raise ValueError(f"throttle needs match.api, one of {', '.join(apis.names)}")
    ctf = spec.get("commit_then_fail")
    fault = Fault(
        id=str(spec.get("id") or f"{source}-{index + 1}"),
        name=str(spec.get("name") or f"fault {index + 1}"),
        matcher=matcher,
        spec=dict(spec),
        latency=_latency(spec["latency_ms"]) if spec.get("latency_ms") is not None else None,
        error=error,
        throttle=bool(spec.get("throttle")),
        transport=spec.get("transport"),
        commit_then_fail=("connection_reset" if ctf is True else ctf) or None,
        nth=spec.get("nth"),
        after=int(spec.get("after", 0)),
        times=spec.get("times"),
        probability=spec.get("probability"),
        source=source,
        priority=int(spec.get("priority", 0)),
        rng=random.Random(spec.get("seed")),
    )
    for key in ("transport", "commit_then_fail"):
        value = getattr(fault, key)
        if value is not None and value not in TRANSPORTS:
            raise ValueError(f"{key}: {value!r} is not one of {', '.join(TRANSPORTS)}")
    return fault


def _check_error(api: Api | None, name: str, operation: str | None) -> None:
    if api is None:
        raise ValueError("error needs match.api: wire errors are named per API")
    if operation in api.free_errors:
        return
    known = set(api.errors())
    if known and name not in known:
        shown = ", ".join(sorted(known))
        raise ValueError(f"error: {name!r} is not a {api.name} wire error ({shown})")


class FaultSet:
    """`runtime.faults`: the scenario's faults plus those added at run time."""

    def __init__(
        self,
        apis: Apis,
        faults: Iterable[Fault] = (),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.apis = apis
        self._lock = threading.Lock()
        self.items: list[Fault] = list(faults)
        self._order: list[Fault] = []
        self._sleep = sleep
        self.added = 0  # faults added at run time so far, for their default ids
        self.on_change: Callable[[FaultSet], None] | None = None  # durable state
        self._reorder()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self)

    def runtime_specs(self) -> list[dict[str, Any]]:
        """The specs of the faults added at run time, in order (what durable state keeps)."""
        with self._lock:
            return [f.spec for f in self.items if f.source == "admin"]

    def _reorder(self) -> None:
        """The order faults are tried in: priority (highest first); at equal priority run-time
        faults, newest first, so a fault added to probe something is never hidden by a broad
        scenario fault (a scenario-wide latency, say); then the scenario's in list order."""
        ranked = [
            (-f.priority, 0 if f.source != "scenario" else 1, -i if f.source != "scenario" else i)
            for i, f in enumerate(self.items)
        ]
        self._order = [
            f for _, f in sorted(zip(ranked, self.items, strict=True), key=lambda p: p[0])
        ]

    def _fire(self, view: dict[str, Any]) -> Fault | None:
        with self._lock:
            for fault in self._order:
                if fault.matcher.matches(view) and self.triggers(fault):
                    return fault
        return None

    def triggers(self, fault: Fault) -> bool:
        """Does `fault` fire for this matching call (its counters are this process's; a SQL
        state's set counts in the engine)."""
        return fault.triggers()

    def intercept(self, call: Call, render_error: Callable[[str], Response]) -> Response | None:
        """Return the injected response, or None to let the service go on."""
        if not self.items:
            return None
        view = {"api": call.api, "operation": call.operation, "identity": call.identity,
                "fields": call.fields}  # fmt: skip
        fault = self._fire(view)
        if fault is None:
            return None
        call.environ[FAULT_KEY] = fault.name
        delay = fault.delay()
        if delay:
            self._sleep(delay)
        if fault.transport or fault.commit_then_fail:
            call.environ[TRANSPORT_KEY] = fault.transport or fault.commit_then_fail
        if fault.transport:
            call.outcome = f"fault:{fault.transport}"
            return render_error(self._api(call).internal_error)
        if fault.error or fault.throttle:
            name = fault.error or self._api(call).throttle_error
            call.outcome = name
            return render_error(name)
        return None  # latency only, or commit_then_fail: the call goes on

    def _api(self, call: Call) -> Api:
        api = self.apis.api(call.api)
        assert api is not None, call.api  # a fault fires only on a call an API named
        return api

    def add(self, spec: dict[str, Any]) -> Fault:
        """Build and add a run-time fault; raises ValueError on a bad spec or a taken id."""
        with self._lock:
            fault = build(spec, self.added, self.apis, source="admin")
            if any(f.id == fault.id for f in self.items):
                raise ValueError(f"id: a fault with id {fault.id!r} exists already")
            self.added += 1
            self.items.append(fault)
            self._reorder()
        self._changed()
        return fault

    def remove(self, fault_id: str) -> bool:
        with self._lock:
            before = len(self.items)
            self.items = [f for f in self.items if f.id != fault_id]
            self._reorder()
            removed = len(self.items) != before
        if removed:
            self._changed()
        return removed

    def clear(self, source: str | None = None) -> int:
        with self._lock:
            before = len(self.items)
            self.items = [f for f in self.items if source is not None and f.source != source]
            self._reorder()
            removed = before - len(self.items)
        if removed:
            self._changed()
        return removed

    def to_json(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_json() for f in self._order]
