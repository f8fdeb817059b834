"""Clocks: the real one and a fake for tests. Knows nothing else."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """Monotonic time, wall time and an interruptible sleep."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""

    def wall(self) -> float:
        """Seconds since the epoch."""

    def sleep(self, seconds: float, stop: threading.Event) -> bool:
        """Sleep up to ``seconds``; return True if ``stop`` was set."""


class RealClock:
    """The system clocks."""

    def monotonic(self) -> float:
        """Return time.monotonic()."""
        return time.monotonic()

    def wall(self) -> float:
        """Return time.time()."""
        return time.time()

    def sleep(self, seconds: float, stop: threading.Event) -> bool:
        """Wait on the stop event."""
        return stop.wait(seconds) if seconds > 0 else stop.is_set()


class FakeClock:
    """A clock that advances only when slept on or told to."""

    def __init__(self, start: float = 1000.0, wall_start: float = 1_700_000_000.0) -> None:
        self.now = start
        self.wall_offset = wall_start - start

    def monotonic(self) -> float:
        """Return the fake time."""
        return self.now

    def wall(self) -> float:
        """Return the fake wall time."""
        return self.now + self.wall_offset

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds

    def sleep(self, seconds: float, stop: threading.Event) -> bool:
        """Advance instead of sleeping."""
        if seconds > 0:
            self.now += seconds
        return stop.is_set()
