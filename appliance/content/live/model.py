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
        self._peeked = True
        self._ended: tuple[str, int] | None = None

    def put(self, frame: LiveFrame) -> bool:
        """Offer a frame; it replaces any frame not yet shown (then return True)."""
        with self._lock:
            overwritten = not self._peeked
            self._frame, self._peeked = frame, False
            return overwritten

    def latest(self) -> LiveFrame | None:
        """Return the newest frame (it stays in the slot), or None before the first."""
        with self._lock:
            self._peeked = True
            return self._frame

    def end(self, source: str) -> None:
        """Note that ``source`` ended its stream (E1.31 stream terminated): no wait for timeout."""
        with self._lock:
            self._ended = (source, self._frame.seq if self._frame is not None else 0)

    def ended(self) -> tuple[str, int] | None:
        """The last source that ended its stream and the ``seq`` of the newest frame then."""
        with self._lock:
            return self._ended

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
    by_reason: dict[str, int] = field(default_factory=dict)  # refused packets by reason
    #: Well-formed packets not used: another source holds the layer, preview data,
    #: other start codes or opcodes, E1.31 discovery (also in ``by_reason``).
    packets_ignored_total: int = 0
    frames_incomplete_total: int = 0  # a push or sync that came before the whole frame
    polls_answered_total: int = 0  # Art-Net ArtPoll answered with ArtPollReply
    errors_total: int = 0  # a packet whose handling failed (a bug: logged, never raised)

    #: The receiver threads count through the methods below, under this lock.
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def invalid(self, reason: str) -> None:
        """Count one packet refused for ``reason`` (snake_case)."""
        with self.lock:
            self.packets_invalid_total += 1
            self.by_reason[reason] = self.by_reason.get(reason, 0) + 1

    def ignored(self, reason: str) -> None:
        """Count one well-formed packet not used, for ``reason`` (snake_case)."""
        with self.lock:
            self.packets_ignored_total += 1
            self.by_reason[reason] = self.by_reason.get(reason, 0) + 1

    def add(self, name: str, n: int = 1) -> None:
        """Add ``n`` to the counter ``name`` (e.g. ``packets_total``), thread-safely."""
        with self.lock:
            setattr(self, name, getattr(self, name) + n)
