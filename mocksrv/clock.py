"""The scenario (business) clock: a start instant, frozen or running, settable at run time."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

# the scenario clock's range: a day inside what datetime holds, so that every local time zone and
# every period start of an instant in range is representable too
FIRST_INSTANT = datetime(1, 1, 2, tzinfo=UTC)
LAST_INSTANT = datetime(9999, 12, 31, tzinfo=UTC)


def clamp(at: datetime) -> datetime:
    """`at` held inside the scenario clock's range."""
    return min(max(at, FIRST_INSTANT), LAST_INSTANT)


def later(at: datetime, seconds: float) -> datetime:
    """`at` plus `seconds`, held inside the clock's range (a clock set near 9999-12-31)."""
    try:
        return clamp(at + timedelta(seconds=seconds))
    except OverflowError:
        return LAST_INSTANT if seconds > 0 else FIRST_INSTANT


class ScenarioClock:
    """Business time for rules (cancel window, periods, expiry). Never used for SigV4 skew.

    The state is one immutable tuple swapped whole, so `now()` (on every request) needs no lock;
    writers serialise on a lock.
    """

    def __init__(
        self, start: datetime | None = None, frozen: bool = False, *, wall: bool = False
    ) -> None:
        self._lock = threading.Lock()
        # a clock shared by several processes (or machines) runs on the wall clock; one
        # process's on the monotonic clock, which no clock adjustment moves
        self._source = time.time if wall else time.monotonic
        self._state = self._stamped(clamp(start or datetime.now(UTC)), frozen)
        self.on_change: Callable[[ScenarioClock], None] | None = None  # shared state

    def now(self) -> datetime:
        base, mono, frozen, _ = self._state
        if frozen:
            return base
        seconds = self._source() - mono
        try:  # `later`, written out: this runs on every request
            at = base + timedelta(seconds=seconds)
        except OverflowError:
            return LAST_INSTANT if seconds > 0 else FIRST_INSTANT
        return at if FIRST_INSTANT <= at <= LAST_INSTANT else clamp(at)

    def seconds(self) -> float:
        """`now()` as POSIX seconds, without building a datetime (the rate limiter's hot path)."""
        _, mono, frozen, at = self._state
        return at if frozen else at + (self._source() - mono)

    def _stamped(self, base: datetime, frozen: bool) -> tuple[datetime, float, bool, float]:
        """A clock state: the instant, the source's time it was taken, frozen, and the instant
        as POSIX seconds (kept, so `seconds()` does no datetime arithmetic)."""
        return (base, self._source(), frozen, base.timestamp())

    def state(self) -> dict[str, object]:
        """What another process needs to run the same clock: the instant at a wall time."""
        with self._lock:
            return {"at": self.now().isoformat(), "wall": time.time(), "frozen": self.frozen}

    def load(self, state: dict[str, object]) -> None:
        """Take the clock `state()` gave (another process's, or one stored before a restart):
        a running clock went on since its wall time."""
        at = parse_instant(str(state["at"]))
        frozen = bool(state["frozen"])
        if not frozen:
            at = later(at, max(0.0, time.time() - float(str(state["wall"]))))
        with self._lock:
            self._state = self._stamped(clamp(at), frozen)

    @property
    def frozen(self) -> bool:
        return self._state[2]

    def set(self, instant: datetime, frozen: bool | None = None) -> None:
        """Move to `instant`, frozen or running as `frozen` says (None: as it was), in one step:
        a clock set and frozen at once shows exactly that instant."""
        with self._lock:
            keep = self._state[2] if frozen is None else frozen
            self._state = self._stamped(clamp(instant.astimezone(UTC)), keep)
        self._changed()

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            now = self.now() + timedelta(seconds=seconds)
            if now != clamp(now):
                raise ValueError(f"{iso(now)} is outside the scenario clock's range")
            self._state = self._stamped(now, self._state[2])
        self._changed()
        return now

    def freeze(self) -> None:
        with self._lock:
            self._state = self._stamped(self.now(), True)
        self._changed()

    def unfreeze(self) -> None:
        with self._lock:
            self._state = self._stamped(self.now(), False)
        self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self)

    def to_json(self) -> dict[str, object]:
        return {"now": iso(self.now()), "frozen": self.frozen}


def iso(dt: datetime) -> str:
    """ISO-8601 in UTC with a Z suffix and millisecond precision."""
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_instant(text: str) -> datetime:
    """Parse an ISO-8601 instant; a missing offset means UTC."""
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    try:
        return dt.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00
        raise ValueError(f"{text!r} is out of range") from None
