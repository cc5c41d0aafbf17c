"""The core of a loaded scenario (identities, clock, settings) and the problem collector."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mocksrv.clock import parse_instant
from mocksrv.errors import ScenarioError
from mocksrv.scenario.loader import Merged, Path_, dotted
from mocksrv.sigv4 import Identity


class Problems:
    """Collects semantic problems as `file:line: key.path: message`."""

    def __init__(self, merged: Merged) -> None:
        self.merged = merged
        self.items: list[str] = []

    def add(self, path: Path_, message: str) -> None:
        self.items.append(f"{self.merged.where(path)}: {dotted(path)}: {message}")

    def raise_if_any(self) -> None:
        if self.items:
            raise ScenarioError(self.items)

    def instant(self, path: Path_, text: Any) -> datetime | None:
        try:
            return parse_instant(str(text))
        except ValueError:
            self.add(path, f"{text!r} is not an ISO-8601 instant (e.g. 2026-05-15T14:00:00Z)")
            return None


@dataclass
class ScenarioModel:
    """What every API shares; each API section is parsed by its own service package."""

    names: list[str]
    raw: dict[str, Any]
    merged: Merged
    identities: list[Identity] = field(default_factory=list)
    clock_start: datetime | None = None
    clock_frozen: bool = False
    sigv4_debug: bool = False
    skew_seconds: dict[str, int] = field(default_factory=dict)  # by API name

    def identity(self, name: str) -> Identity | None:
        return next((i for i in self.identities if i.name == name), None)


def build_model(
    merged: Merged,
    problems: Problems | None = None,
    *,
    skew_defaults: dict[str, int],
    aliases: dict[str, str],
) -> ScenarioModel:
    """The shared model; with `problems` given, problems are collected there instead of raised.

    The registry gives each API's default skew window and the API names' accepted spellings
    (an alias in `identities[].api` or `settings.skew_seconds` means its API)."""
    data = merged.data
    collect = problems is not None
    problems = problems if problems is not None else Problems(merged)
    settings = data.get("settings") or {}
    clock = data.get("clock") or {}
    model = ScenarioModel(
        names=[str(data.get("name", "scenario"))],
        raw=data,
        merged=merged,
        clock_frozen=bool(clock.get("frozen", False)),
        sigv4_debug=bool(settings.get("sigv4_debug", False)),
    )
    model.skew_seconds.update(skew_defaults)
    for key, seconds in (settings.get("skew_seconds") or {}).items():
        model.skew_seconds[aliases.get(key, key)] = seconds
    if clock.get("start") is not None:
        model.clock_start = problems.instant(("clock", "start"), clock["start"])
    model.identities = _identities(data.get("identities") or [], problems, aliases)
    if not collect:
        problems.raise_if_any()
    return model


def _identities(raws: list[Any], problems: Problems, aliases: dict[str, str]) -> list[Identity]:
    """The scenario's identities (API aliases resolved); duplicate keys and names are problems."""
    out: list[Identity] = []
    seen_keys: dict[str, int] = {}
    seen_names: dict[str, int] = {}
    for i, raw in enumerate(raws):
        path: Path_ = ("identities", i)
        if raw["access_key"] in seen_keys:
            problems.add(
                path + ("access_key",),
                f"duplicate access key (also identities[{seen_keys[raw['access_key']]}])",
            )
        if raw["name"] in seen_names:
            problems.add(
                path + ("name",),
                f"duplicate identity name (also identities[{seen_names[raw['name']]}])",
            )
        seen_keys[raw["access_key"]] = i
        seen_names[raw["name"]] = i
        out.append(
            Identity(
                name=raw["name"],
                api=aliases.get(raw["api"], raw["api"]),
                access_key=raw["access_key"],
                secret_key=raw["secret_key"],
                regions=tuple(raw.get("regions") or ()),
                extra={
                    k: v
                    for k, v in raw.items()
                    if k not in ("name", "api", "access_key", "secret_key", "regions")
                },
            )
        )
    return out
