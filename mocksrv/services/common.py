"""What every API plugin does at install: parse its section strictly and build its SigV4 policy."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from mocksrv import sigv4
from mocksrv.scenario.model import Problems

if TYPE_CHECKING:
    from mocksrv.runtime import Runtime
    from mocksrv.scenario.model import ScenarioModel

C = TypeVar("C")


def parse_or_raise(runtime: Runtime, parse: Callable[[ScenarioModel, Problems], C]) -> C:
    """The section's config; its problems raise ScenarioError (`file:line: key.path: message`)."""
    problems = Problems(runtime.model.merged)
    config = parse(runtime.model, problems)
    problems.raise_if_any()
    return config


def verify_policy(
    runtime: Runtime, service: str, skew_key: str, *, normalize_path: bool = True
) -> sigv4.VerifyPolicy:
    """SigV4 policy for one API: its service name, skew window and the runtime's debug switch."""
    return sigv4.VerifyPolicy(
        service=service,
        skew_seconds=runtime.model.skew_seconds[skew_key],
        normalize_path=normalize_path,
        debug=runtime.sigv4_debug,
    )
