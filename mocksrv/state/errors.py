"""What a state engine raises: a failed change, an unusable state, a lost race."""

from __future__ import annotations


class StoreError(Exception):
    """A state change could not be committed, or state could not be read (disk full, I/O
    error, database gone): the request fails with its API's server error and changes nothing."""


class StateError(Exception):
    """The state cannot be used at all (damaged, another format, unreachable): start-up stops."""


class Conflict(Exception):
    """Another transaction won a race on the same key: this one is rolled back and run again."""


class Busy(Exception):
    """A write that asked not to wait found the write lock taken (`SqlEngine.write(wait=False)`)."""
