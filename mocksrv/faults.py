"""Fault-injection hook called by every service after auth and parsing (no faults by default)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from mocksrv.http import Response

if TYPE_CHECKING:
    from mocksrv.call import Call


class NoFaults:
    """The default: nothing is injected."""

    items: tuple[()] = ()  # a fault set with no items is skipped without a call

    def intercept(self, call: Call, render_error: Callable[[str], Response]) -> Response | None:
        """Return a response to send instead of handling the call, or None to go on.

        `render_error(name)` renders the named wire error in the calling API's own shape.
        """
        return None
