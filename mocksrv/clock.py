"""The scenario (business) clock: a start instant, frozen or running, settable at run time."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class ScenarioClock:
    """Business time for rules (cancel window, periods, expiry). Never used for SigV4 skew."""

    def __init__(self, start: datetime | None = None, frozen: bool = False) -> None:
        self._lock = threading.Lock()
        self._base = start or datetime.now(UTC)
        self._mono = time.monotonic()
        self._frozen = frozen

    def now(self) -> datetime:
        with self._lock:
            if self._frozen:
                return self._base
            return self._base + timedelta(seconds=time.monotonic() - self._mono)

    @property
    def frozen(self) -> bool:
        return self._frozen

    def set(self, instant: datetime) -> None:
        with self._lock:
            self._base = instant.astimezone(UTC)
            self._mono = time.monotonic()

    def advance(self, seconds: float) -> datetime:
        now = self.now() + timedelta(seconds=seconds)
        self.set(now)
        return now

    def freeze(self) -> None:
        now = self.now()
        with self._lock:
            self._base, self._frozen = now, True

    def unfreeze(self) -> None:
        with self._lock:
            self._mono = time.monotonic()
            self._frozen = False

    def to_json(self) -> dict[str, object]:
        return {"now": iso(self.now()), "frozen": self._frozen}


def iso(dt: datetime) -> str:
    """ISO-8601 in UTC with a Z suffix and millisecond precision."""
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_instant(text: str) -> datetime:
    """Parse an ISO-8601 instant; a missing offset means UTC."""
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)
