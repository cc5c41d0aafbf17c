"""Base classes for wire errors (rendered by each API) and internal errors."""

from __future__ import annotations


class WireError(Exception):
    """An error that goes on the wire in an API's own shape.

    Subclasses are named exactly like the real error; each API renders its family with one handler.
    `status` is the HTTP status; `error_code` is the API's own code where it has one.
    """

    status: int = 400
    error_code: str = ""
    message: str = ""

    def __init__(self, message: str | None = None, *, status: int | None = None) -> None:
        if message is not None:
            self.message = message
        if status is not None:
            self.status = status
        super().__init__(self.message)

    @property
    def name(self) -> str:
        return type(self).__name__


class NamedWireError(WireError):
    """A wire error whose code on the wire is its class name (Prime, S3, the landing endpoint)."""

    @property
    def error_code(self) -> str:  # type: ignore[override]
        return type(self).__name__


class TenantError(Exception):
    """A tenant cannot be made or found: status, code and message for the admin answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class ScenarioError(Exception):
    """A scenario file is invalid; carries `file:line: key.path: message` problems."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class MocksrvError(Exception):
    """Any other internal error that must reach the user as a clear message, not a traceback."""
