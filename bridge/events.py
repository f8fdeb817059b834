"""Server-Sent Events hub: fans engine messages out to a bounded set of browser streams.

Owns the per-client queues (bounded: when a slow client falls behind, its
oldest messages are dropped and counted, never buffered without end), the cap
on concurrent streams (each open stream holds one waitress thread), heartbeats
and the SSE wire format. Knows nothing of MQTT or Flask routing.
"""

from __future__ import annotations

import base64
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import structlog

from appliance.wire import jsonsafe, topics

log = structlog.get_logger("bridge.events")

#: Engine topics forwarded as SSE events (SSE event name = topic name).
FORWARDED = frozenset(topics.SSE_FORWARDED)
HEARTBEAT_S = 15.0


class HubFull(Exception):
    """Too many open streams."""


def format_event(name: str, data: Any) -> bytes:
    """Return one SSE message (compact JSON data on one line)."""
    body = jsonsafe.dumps(data)
    return f"event: {name}\ndata: {body}\n\n".encode()


class Subscriber:
    """One stream's bounded queue."""

    def __init__(self, maxlen: int, preview: bool) -> None:
        self.items: deque[bytes] = deque()
        self.maxlen = maxlen
        self.preview = preview
        self.dropped = 0
        self.cond = threading.Condition()
        self.closed = False

    def put(self, item: bytes) -> bool:
        """Queue a message; drop the oldest when full. Returns False when one was dropped."""
        with self.cond:
            dropped = False
            if len(self.items) >= self.maxlen:
                self.items.popleft()
                self.dropped += 1
                dropped = True
            self.items.append(item)
            self.cond.notify()
        return not dropped

    def take(self, timeout_s: float) -> list[bytes]:
        """Wait up to ``timeout_s`` for messages and take them all."""
        with self.cond:
            if not self.items and not self.closed:
                self.cond.wait(timeout_s)
            out = list(self.items)
            self.items.clear()
            return out

    def close(self) -> None:
        """Wake the stream so it ends."""
        with self.cond:
            self.closed = True
            self.cond.notify()


class EventHub:
    """Streams for browsers; ``publish`` is called from the MQTT thread."""

    def __init__(self, max_clients: int, queue_size: int, max_age_s: float,
                 preview_geometry: Callable[[], tuple[int, int]],
                 on_dropped: Callable[[int], None] | None = None) -> None:
        self.max_clients = max_clients
        self.queue_size = queue_size
        self.max_age_s = max_age_s
        self.preview_geometry = preview_geometry
        self.on_dropped = on_dropped
        self._subs: set[Subscriber] = set()
        self._lock = threading.Lock()
        self.dropped_total = 0

    @property
    def clients(self) -> int:
        """Open streams now."""
        return len(self._subs)

    def subscribe(self, preview: bool) -> Subscriber:
        """Open a stream or raise HubFull."""
        with self._lock:
            if len(self._subs) >= self.max_clients:
                raise HubFull(f"at most {self.max_clients} live streams")
            sub = Subscriber(self.queue_size, preview)
            self._subs.add(sub)
            return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        """Close a stream."""
        with self._lock:
            self._subs.discard(sub)
        sub.close()

    def close_all(self) -> None:
        """End every stream (on shutdown)."""
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            sub.close()

    def watching_preview(self) -> bool:
        """True while any stream wants preview frames."""
        return any(s.preview for s in list(self._subs))

    def publish(self, name: str, value: Any) -> None:
        """Forward one engine message to every stream (called from the MQTT thread)."""
        if name not in FORWARDED or not self._subs:
            return
        if name == "preview":
            if not isinstance(value, bytes | bytearray):
                return
            w, h = self.preview_geometry()
            if w * h * 3 != len(value):
                return
            msg = format_event("preview", {"width": w, "height": h, "format": "rgb24",
                                           "data": base64.b64encode(value).decode()})
        else:
            msg = format_event(name, value)
        dropped = 0
        for sub in list(self._subs):
            if name == "preview" and not sub.preview:
                continue
            if not sub.put(msg):
                dropped += 1
        if dropped:
            self.dropped_total += dropped
            if self.on_dropped is not None:
                self.on_dropped(dropped)

    def stream(self, sub: Subscriber, initial: list[bytes],
               tick: Callable[[], None] | None = None) -> Iterator[bytes]:
        """Yield the SSE body: a retry hint, the initial snapshot, then live messages."""
        started = time.monotonic()
        last_sent = started
        try:
            yield b"retry: 2000\n\n"
            yield from initial
            while not sub.closed:
                if tick is not None:
                    tick()
                now = time.monotonic()
                if now - started >= self.max_age_s:
                    # End long streams so a forgotten tab cannot hold a thread forever;
                    # EventSource reconnects on its own.
                    yield b"event: bye\ndata: {}\n\n"
                    return
                items = sub.take(min(1.0, HEARTBEAT_S))
                if items:
                    yield b"".join(items)
                    last_sent = time.monotonic()
                elif time.monotonic() - last_sent >= HEARTBEAT_S:
                    yield b": ping\n\n"
                    last_sent = time.monotonic()
        finally:
            self.unsubscribe(sub)
