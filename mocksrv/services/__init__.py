"""The registry of scenario sections and the services they install.

Each plugin module names its top-level scenario SECTION, its JSON SCHEMA fragment, a `check`
(semantic validation, no side effects) and an `install` (build the service on a runtime).
"""

from __future__ import annotations

import importlib
from functools import cache
from types import ModuleType
from typing import TYPE_CHECKING, Any

from mocksrv.scenario.model import Problems

if TYPE_CHECKING:
    from mocksrv.runtime import Runtime
    from mocksrv.scenario.loader import Merged
    from mocksrv.scenario.model import ScenarioModel

PLUGINS = (
    "mocksrv.services.prime.plugin",
    "mocksrv.services.agcod.plugin",
    "mocksrv.services.promotions.plugin",
    "mocksrv.services.sts.plugin",
    "mocksrv.toolkit.plugin",
)


@cache
def plugins() -> tuple[ModuleType, ...]:
    return tuple(importlib.import_module(name) for name in PLUGINS)


def section_schemas() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for plugin in plugins():
        out.update(plugin.SCHEMAS)
    return out


def check_sections(merged: Merged, model: ScenarioModel) -> None:
    problems = Problems(merged)
    for plugin in plugins():
        plugin.check(model, problems)
    problems.raise_if_any()


def install_services(runtime: Runtime) -> None:
    check_sections(runtime.model.merged, runtime.model)
    for plugin in plugins():
        plugin.install(runtime)
