"""Frame assembly and source arbitration: packets in, whole frames into the ``FrameSlot``.

The mapping (contract section 9): pixels are RGB, 8 bits each, row-major from the
top-left across the whole panel; byte ``k`` of the frame is channel ``k % 3`` of
pixel ``k // 3``. DDP addresses the frame by byte offset; E1.31 and Art-Net carry
170 pixels (510 channels) per universe in consecutive universes from the configured
first one (channels 511-512 of a universe are ignored; the last universe may be
short; a universe outside the frame is foreign: counted as invalid, ignored).

A frame is offered (a copy) only when it is whole, so a partial frame never shows:

* DDP: on a packet with the push flag, when every byte of the panel was written
  since the last complete frame and since the last packet at offset 0 (a sender
  starts each frame there). A push before that is counted in
  ``frames_incomplete_total`` and nothing is shown.
* E1.31 / Art-Net: when every universe of the frame has arrived since the last
  complete frame; or on a sync packet (E1.31-2016 universe sync, ArtSync) from the
  sending host: then the frame is what has arrived, once every universe has arrived
  at least once from that source. Once a source has sent a sync, its frames
  complete only on sync, until no sync has come for ``SYNC_EXPIRY_S``. An E1.31
  sync counts only when the source's data packets carry its sync address (data
  with sync address 0 is shown as it completes, as the standard says).

Arbitration (``Arbiter``, shared by the three protocols): one source ("ip:port" of
the sender, per protocol) holds the layer. A packet from another source is ignored
(counted as ``not_owner``) unless the holder has sent no frame for ``timeout_s``
(then the newcomer takes the layer), or it is an E1.31 packet of a higher priority
than the holder's (DDP and Art-Net count as priority 100, E1.31's default). An Art-Net source is
its IP alone (nodes send from port 6454; some senders use a socket per universe).
E1.31
stream-terminated releases the layer at once. Knows nothing of sockets, threads,
the render loop or settings files.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from appliance.content.live.model import FrameSlot, LiveCounters, LiveFrame, Protocol

CHANNELS_PER_UNIVERSE = 510  # 170 RGB pixels
DEFAULT_PRIORITY = 100
SYNC_EXPIRY_S = 4.0  # Art-Net's rule: no ArtSync for 4 s and a node leaves sync mode


def universes_for(width: int, height: int) -> int:
    """How many universes a ``width`` x ``height`` frame takes (170 pixels each)."""
    return -(-width * height * 3 // CHANNELS_PER_UNIVERSE)


@dataclass
class Owner:
    """The source that holds the layer."""

    key: str  # who it is: "ip:port" (Art-Net: the ip alone)
    protocol: Protocol
    priority: int
    last_mono: float  # when it claimed the layer or completed its last frame
    source: str  # "ip:port" of the packet that claimed the layer (what state.live reports)


class Arbiter:
    """Which source may feed the slot (thread-safe; shared by the receiver threads)."""

    def __init__(self, slot: FrameSlot, counters: LiveCounters, timeout_s: float = 2.5) -> None:
        self.slot = slot
        self.counters = counters
        self.timeout_s = timeout_s
        self.owner: Owner | None = None
        self.seq = 0  # frames completed so far (LiveFrame.seq)
        self._lock = threading.Lock()

    def admit(self, key: str, protocol: Protocol, priority: int, now: float,
              source: str | None = None) -> bool:
        """May this packet feed a frame? (It may claim or take over the layer.)"""
        with self._lock:
            o = self.owner
            if o is not None and o.key == key and o.protocol == protocol:
                o.priority = priority
                return True
            if (o is None or now - o.last_mono > self.timeout_s
                    or (protocol == "e131" and priority > o.priority)):
                self.owner = Owner(key, protocol, priority, now, source or key)
                return True
        self.counters.ignored("not_owner")
        return False

    def holds(self, key: str, protocol: Protocol) -> bool:
        """True when this source holds the layer now."""
        with self._lock:
            o = self.owner
            return o is not None and o.key == key and o.protocol == protocol

    def offer(self, pixels: np.ndarray, key: str, protocol: Protocol, priority: int,
              now: float) -> bool:
        """Put a whole frame (the caller's copy) in the slot if its source holds the layer."""
        with self._lock:
            o = self.owner
            if o is None or o.key != key or o.protocol != protocol:
                return False
            o.last_mono = now
            self.seq += 1
            frame = LiveFrame(pixels=pixels, protocol=protocol, source=o.source,
                              received_mono=now, priority=priority, seq=self.seq)
            if self.slot.put(frame):
                self.counters.add("frames_overwritten_total")
            self.counters.add("frames_total")
            return True

    def release(self, key: str, protocol: Protocol) -> bool:
        """The source ended its stream: free the layer now if it held it."""
        with self._lock:
            o = self.owner
            if o is None or o.key != key or o.protocol != protocol:
                return False
            self.owner = None
        self.slot.end(o.source)
        return True


class _Frame:
    """The frame buffer a protocol assembles into, and its ``(H, W, 3)`` view."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.size = width * height * 3
        self.buf = bytearray(self.size)
        self.pixels = np.frombuffer(self.buf, dtype=np.uint8).reshape(height, width, 3)

    def copy(self) -> np.ndarray:
        """A copy of the frame, read-only (nothing downstream may change it)."""
        out = self.pixels.copy()
        out.flags.writeable = False
        return out


class DDPAssembler:
    """DDP packets by byte offset; a frame completes on push when every byte was written."""

    def __init__(self, width: int, height: int, arbiter: Arbiter) -> None:
        self.frame = _Frame(width, height)
        self.arbiter = arbiter
        self.counters = arbiter.counters
        self._mask = bytearray(self.frame.size)  # 1 where written since the last frame
        self._zeros = bytes(self.frame.size)
        self._ones = memoryview(b"\x01" * self.frame.size)
        self._source: str | None = None
        self._dirty = False

    def feed(self, offset: int, data: memoryview, push: bool, source: str, now: float) -> None:
        """One DDP data packet from ``source`` (only data inside the frame claims the layer)."""
        n, size = len(data), self.frame.size
        if n and offset >= size:
            self.counters.invalid("ddp_beyond_frame")
            n = 0
        if n == 0 and (not push or not self.arbiter.holds(source, "ddp")):
            return
        if not self.arbiter.admit(source, "ddp", DEFAULT_PRIORITY, now):
            return
        if source != self._source:
            self._source = source
            self._restart()
        if n:
            if offset == 0:
                self._restart()
            end = min(size, offset + n)
            self.frame.buf[offset:end] = data[:end - offset]
            self._mask[offset:end] = self._ones[:end - offset]
            self._dirty = True
        if push and self._dirty:
            if self._mask.find(0) >= 0:
                self.counters.add("frames_incomplete_total")
                return
            self.arbiter.offer(self.frame.copy(), source, "ddp", DEFAULT_PRIORITY, now)
            self._restart()

    def _restart(self) -> None:
        self._mask[:] = self._zeros
        self._dirty = False


def _host(source: str) -> str:
    return source.rsplit(":", 1)[0]


class UniverseAssembler:
    """E1.31 or Art-Net universes (510 channels each) from ``first`` on."""

    def __init__(self, protocol: Protocol, first: int, width: int, height: int,
                 arbiter: Arbiter, by_host: bool = False) -> None:
        self.protocol: Protocol = protocol
        #: Identify a source by its ip alone (Art-Net: nodes speak from 6454, and some
        #: senders use a socket per universe); else by "ip:port".
        self.by_host = by_host
        self.first = first
        self.frame = _Frame(width, height)
        self.count = universes_for(width, height)
        self.arbiter = arbiter
        self.counters = arbiter.counters
        self._got = bytearray(self.count)  # arrived since the last complete frame
        self._ever = bytearray(self.count)  # arrived at least once from this source
        self._n_got = self._n_ever = 0
        self._source: str | None = None
        self._priority = DEFAULT_PRIORITY
        self._sync_address = 0
        self._last_sync: float | None = None

    def universes(self) -> range:
        """The universes (or port-addresses) the frame takes."""
        return range(self.first, self.first + self.count)

    def feed(self, universe: int, data: memoryview, source: str, now: float,
             priority: int = DEFAULT_PRIORITY, sync_address: int = 0) -> None:
        """One universe's DMX slots from ``source``."""
        i = universe - self.first
        if not 0 <= i < self.count:
            self.counters.invalid("foreign_universe")
            return
        key = _host(source) if self.by_host else source
        if not self.arbiter.admit(key, self.protocol, priority, now, source):
            return
        if key != self._source:
            self._restart(key)
        self._priority, self._sync_address = priority, sync_address
        off = i * CHANNELS_PER_UNIVERSE
        k = min(len(data), CHANNELS_PER_UNIVERSE, self.frame.size - off)
        self.frame.buf[off:off + k] = data[:k]
        if not self._got[i]:
            self._got[i] = 1
            self._n_got += 1
        if not self._ever[i]:
            self._ever[i] = 1
            self._n_ever += 1
        if self._last_sync is not None and now - self._last_sync < SYNC_EXPIRY_S:
            return  # a sync-mode source: its sync packet shows the frame
        if self._n_got == self.count:
            self._complete(now)

    def sync(self, source: str, now: float, sync_address: int | None = None) -> bool:
        """A sync packet from ``source``: show what has arrived (False: not for us)."""
        if self._source is None or _host(source) != _host(self._source):
            return False
        if sync_address is not None and sync_address != self._sync_address:
            return False  # E1.31: only data that named this sync address waits for it
        self._last_sync = now
        if self._n_got == 0:
            return True
        if self._n_ever < self.count:
            self.counters.add("frames_incomplete_total")
            return True
        self._complete(now)
        return True

    def terminate(self, source: str) -> None:
        """The source ended its stream: forget its partial frame."""
        key = _host(source) if self.by_host else source
        if key == self._source:
            self._restart(None)
        self.arbiter.release(key, self.protocol)

    def _complete(self, now: float) -> None:
        assert self._source is not None
        self.arbiter.offer(self.frame.copy(), self._source, self.protocol, self._priority, now)
        self._got[:] = bytes(self.count)
        self._n_got = 0

    def _restart(self, source: str | None) -> None:
        self._source = source
        self._got[:] = bytes(self.count)
        self._ever[:] = bytes(self.count)
        self._n_got = self._n_ever = 0
        self._sync_address = 0
        self._last_sync = None
