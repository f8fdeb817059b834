"""What the realtime receivers hand to the render loop: the newest whole frame.

``LiveFrame`` is one complete frame (assembled from its packets); ``FrameSlot``
holds the newest one (newest wins: a flood can never queue up work for the render
thread); ``LiveCounters`` are the receivers' figures. Written by the receiver
threads, read by the live layer on the render thread. Knows nothing of sockets'
owners, the render loop, MQTT or settings files.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Protocol = Literal["ddp", "e131", "artnet"]


@dataclass(frozen=True)
class LiveFrame:
    """One complete frame: uint8 ``(H, W, 3)`` pixels (the receiver's own copy)."""

    pixels: np.ndarray
    protocol: Protocol
    source: str  # "ip:port" of the sender
    received_mono: float  # time.monotonic() when the frame's last packet arrived
    priority: int = 100  # E1.31 priority (0-200); the others use the default 100
    seq: int = 0  # frames completed by the receivers so far (tells a new frame from the last)


class FrameSlot:
    """The newest complete frame (thread-safe); ``put`` replaces, ``latest`` peeks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frame: LiveFrame | None = None

    def put(self, frame: LiveFrame) -> None:
        """Offer a frame; it replaces any frame not yet shown."""
        with self._lock:
            self._frame = frame

    def latest(self) -> LiveFrame | None:
        """Return the newest frame (it stays in the slot), or None before the first."""
        with self._lock:
            return self._frame

    def clear(self) -> None:
        """Forget the frame held (a stream ended or the settings changed)."""
        with self._lock:
            self._frame = None


@dataclass
class LiveCounters:
    """The receivers' figures (written by receiver threads; ints are safe to read)."""

    packets_total: int = 0
    packets_invalid_total: int = 0  # short, malformed, foreign, out of order
    frames_total: int = 0  # complete frames offered to the slot
    frames_overwritten_total: int = 0  # replaced in the slot before the render loop took them
    by_reason: dict[str, int] = field(default_factory=dict)  # invalid packets by reason

    def invalid(self, reason: str) -> None:
        """Count one packet refused for ``reason`` (snake_case)."""
        self.packets_invalid_total += 1
        self.by_reason[reason] = self.by_reason.get(reason, 0) + 1
