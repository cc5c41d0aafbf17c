"""Scenario section and service installation (placeholder until the API is built)."""

from __future__ import annotations

from typing import Any

SCHEMAS: dict[str, Any] = {}


def check(model: Any, problems: Any) -> None:
    return None


def install(runtime: Any) -> None:
    return None
