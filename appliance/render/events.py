"""The event log: rate-limited events published on ``<base>/events`` and kept in a buffer.

Owns the per-minute budget (``health.events_per_minute``), the suppressed and
dropped counts and the newest 100 events; and the ``Publisher`` and ``Notifier``
seams the render parts speak through. Thread-safe. Knows nothing of
animations, displays or what an event means.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Protocol

from appliance.render.clock import Clock

EVENTS_KEPT = 100


class Publisher(Protocol):
    """Where the engine sends what it publishes (the MQTT link, or a fake)."""

    def publish(self, name: str, payload: Any, *, retain: bool = False) -> None:
        """Publish ``payload`` on ``<base>/<name>``."""


class Notifier(Protocol):
    """systemd notifications (sdnotify, or a fake)."""

    def notify(self, message: str) -> None:
        """Send one sd_notify message such as READY=1."""


class NullNotifier:
    """Notifies nobody."""

    def notify(self, message: str) -> None:
        """Drop the message."""


class NullPublisher:
    """Publishes nowhere (for benchmarks and tests that do not look)."""

    def publish(self, name: str, payload: Any, *, retain: bool = False) -> None:
        """Drop the message."""


class EventLog:
    """Publishes events, at most ``per_minute`` a minute."""

    def __init__(self, clock: Clock, publisher: Publisher, per_minute: int) -> None:
        self.clock = clock
        self.publisher = publisher
        self.recent: deque[dict[str, Any]] = deque(maxlen=EVENTS_KEPT)
        #: Recent events pushed out of ``recent`` (the buffer keeps the newest 100).
        self.dropped_total = 0
        self.suppressed_total = 0
        self._times: deque[float] = deque(maxlen=per_minute)
        self._lock = threading.Lock()

    def __call__(self, name: str, **fields: Any) -> None:
        """Publish one event (``None`` fields left out), unless over the budget."""
        with self._lock:
            now = self.clock.monotonic()
            times = self._times
            if len(times) == times.maxlen and now - times[0] < 60.0:
                self.suppressed_total += 1
                return
            times.append(now)
        ev = {"event": name, **{k: v for k, v in fields.items() if v is not None}}
        ev["ts"] = iso(self.clock.wall())
        if self.suppressed_total:
            ev["suppressed_total"] = self.suppressed_total
        if len(self.recent) == self.recent.maxlen:
            self.dropped_total += 1
        self.recent.append(ev)
        self.publisher.publish("events", ev)


def iso(ts: float) -> str:
    """Return epoch seconds as an ISO-8601 UTC time with milliseconds."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"
