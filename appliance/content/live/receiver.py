"""The realtime receivers' sockets and threads: ``LiveInput``.

One thread per enabled protocol (DDP, E1.31, Art-Net), each with its own UDP socket
bound to ``realtime.bind``:port (``SO_REUSEADDR``; port 0 picks a free port, see
``ports``). A thread only receives into a preallocated buffer, parses and copies
(``handlers``); whole frames go to ``slot`` (newest wins) and the figures to
``counters``. Nothing queues: the kernel's socket buffer is the only backlog and
it drops the excess, so a flood costs this thread's CPU, never the render loop's
memory. Every ``YIELD_EVERY`` packets in a burst the thread sleeps briefly so the
render and MQTT threads get the interpreter. Nothing a packet contains can raise
out of a thread: a failed packet is counted in ``errors_total`` and logged.

E1.31 multicast: with ``e131.multicast`` on, the socket joins 239.255.<hi>.<lo>
for every universe of the frame (more than ``GROUPS_PER_SOCKET`` groups are held by
extra, unbound sockets: Linux allows 20 per socket and delivers a joined group to
every socket on the port). Multicast reaches a socket bound to 0.0.0.0 only.

``start``/``stop``/``reconfigure`` run on the caller's thread (never the render
thread); ``start`` raises ``OSError`` when a port cannot be bound. Knows nothing of
the render loop, MQTT or settings files.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from appliance.content.live.assembler import Arbiter
from appliance.content.live.handlers import ArtNetHandler, DDPHandler, E131Handler, Reply
from appliance.content.live.model import FrameSlot, LiveCounters, Protocol
from appliance.settings.realtime_schema import (
    ArtNetSettings,
    DDPSettings,
    E131Settings,
    RealtimeSettings,
)

log = structlog.get_logger("realtime")

BUFFER_BYTES = 2048  # the longest packet used is DDP's 1454 bytes
RCVBUF_BYTES = 1 << 20  # asked of the kernel (it caps this at net.core.rmem_max)
POLL_S = 0.2  # socket timeout: how long stop() may wait for a thread
YIELD_EVERY = 256
YIELD_S = 0.0005
GROUPS_PER_SOCKET = 20
PROTOCOLS: tuple[Protocol, ...] = ("ddp", "e131", "artnet")

Handler = DDPHandler | E131Handler | ArtNetHandler


def multicast_group(universe: int) -> str:
    """E1.31's multicast address for ``universe``: 239.255.<hi>.<lo>."""
    return f"239.255.{(universe >> 8) & 0xFF}.{universe & 0xFF}"


Section = DDPSettings | E131Settings | ArtNetSettings


def _section(rt: RealtimeSettings, protocol: Protocol) -> Section:
    match protocol:
        case "ddp":
            return rt.ddp
        case "e131":
            return rt.e131
        case "artnet":
            return rt.artnet


def _section_key(rt: RealtimeSettings, protocol: Protocol) -> tuple[object, ...]:
    """What a protocol's thread depends on: a change to any of it restarts that thread."""
    return (rt.bind, *_section(rt, protocol).model_dump().items())


@dataclass
class _Worker:
    """One protocol's socket, thread and handler."""

    protocol: Protocol
    sock: socket.socket
    handler: Handler
    key: tuple[object, ...]
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    extra: list[socket.socket] = field(default_factory=list)  # multicast membership holders


class LiveInput:
    """The UDP receivers for DDP, E1.31 and Art-Net, feeding ``slot`` and ``counters``."""

    def __init__(self, device_id: str = "", clock: Callable[[], float] = time.monotonic) -> None:
        self.slot = FrameSlot()
        self.counters = LiveCounters()
        self.arbiter = Arbiter(self.slot, self.counters)
        #: The ArtPollReply long name: how xLights or Resolume list the box.
        self.long_name = f"LightBox {device_id}" if device_id else "LightBox LED matrix"
        self.clock = clock
        self.width = self.height = 0
        self._workers: dict[Protocol, _Worker] = {}
        self._lock = threading.Lock()

    @property
    def ports(self) -> dict[Protocol, int]:
        """The port each running receiver is bound to (useful with port 0)."""
        with self._lock:
            return {p: int(w.sock.getsockname()[1]) for p, w in self._workers.items()}

    def start(self, settings: RealtimeSettings, width: int, height: int) -> None:
        """Bind the enabled receivers and start their threads (``OSError`` if a port is taken)."""
        with self._lock:
            self._stop_all()
            self.width, self.height = width, height
            self.arbiter.timeout_s = settings.timeout_s
            try:
                for protocol in PROTOCOLS:
                    self._start_one(settings, protocol)
            except BaseException:
                self._stop_all()
                raise

    def reconfigure(self, settings: RealtimeSettings) -> None:
        """Put changed settings in force, restarting only the receivers whose section changed."""
        with self._lock:
            self.arbiter.timeout_s = settings.timeout_s
            for protocol in PROTOCOLS:
                w = self._workers.get(protocol)
                if w is not None and w.key == _section_key(settings, protocol):
                    continue
                if w is not None:
                    self._stop_one(protocol)
                self._start_one(settings, protocol)

    def stop(self) -> None:
        """Close every socket and join the threads (idempotent)."""
        with self._lock:
            self._stop_all()

    # ------------------------------------------------------------------ workers
    def _start_one(self, rt: RealtimeSettings, protocol: Protocol) -> None:
        sec = _section(rt, protocol)
        if not sec.enabled:
            return
        sock = _bind(rt.bind, sec.port)
        try:
            handler = self._handler(rt, protocol)
            w = _Worker(protocol, sock, handler, _section_key(rt, protocol))
            if isinstance(handler, E131Handler) and rt.e131.multicast:
                w.extra = _join(sock, rt.bind, list(handler.assembler.universes()))
        except BaseException:
            sock.close()
            raise
        w.thread = threading.Thread(target=self._run, args=(w,), name=f"live-{protocol}",
                                    daemon=True)
        self._workers[protocol] = w
        w.thread.start()
        log.info("live_receiver_started", protocol=protocol, bind=rt.bind,
                 port=sock.getsockname()[1])

    def _handler(self, rt: RealtimeSettings, protocol: Protocol) -> Handler:
        w, h, arb = self.width, self.height, self.arbiter
        match protocol:
            case "ddp":
                return DDPHandler(w, h, arb)
            case "e131":
                return E131Handler(rt.e131.universe, w, h, arb)
            case "artnet":
                return ArtNetHandler(rt.artnet.universe, w, h, arb, self.long_name, rt.bind)

    def _stop_one(self, protocol: Protocol) -> None:
        w = self._workers.pop(protocol)
        w.stop.set()
        if w.thread is not None:
            w.thread.join(POLL_S * 10)
        for s in [w.sock, *w.extra]:
            s.close()

    def _stop_all(self) -> None:
        for protocol in list(self._workers):
            self._stop_one(protocol)

    # ------------------------------------------------------------------ the thread
    def _run(self, w: _Worker) -> None:
        buf = bytearray(BUFFER_BYTES)
        view = memoryview(buf)
        burst = 0
        while not w.stop.is_set():
            try:
                n, addr = w.sock.recvfrom_into(buf)
            except TimeoutError:
                burst = 0
                continue
            except OSError:
                if w.stop.is_set():
                    return
                time.sleep(POLL_S)  # a socket error (e.g. ICMP noise): keep listening
                continue
            self._one(w, view[:n], addr)
            burst += 1
            if burst >= YIELD_EVERY:
                burst = 0
                time.sleep(YIELD_S)  # a flood: let the render and MQTT threads run

    def _one(self, w: _Worker, view: memoryview, addr: tuple[str, int]) -> None:
        self.counters.add("packets_total")
        try:
            replies = w.handler.handle(view, f"{addr[0]}:{addr[1]}", self.clock())
            _send(w.sock, replies)
        except Exception as exc:  # a bug for some packet: count, log, keep receiving
            self.counters.add("errors_total")
            log.warning("live_packet_failed", protocol=w.protocol,
                        error=f"{type(exc).__name__}: {exc}"[:200])


def _send(sock: socket.socket, replies: list[Reply]) -> None:
    for data, addr in replies:
        with contextlib.suppress(OSError):
            sock.sendto(data, addr)


def _bind(bind: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF_BYTES)
        sock.bind((bind, port))
        sock.settimeout(POLL_S)
    except BaseException:
        sock.close()
        raise
    return sock


def _join(sock: socket.socket, bind: str, universes: list[int]) -> list[socket.socket]:
    """Join each universe's group (best effort: unicast works without); return the helpers."""
    iface = socket.inet_aton(bind)
    extra: list[socket.socket] = []
    holder = sock
    failed = 0
    for i, universe in enumerate(universes):
        if i and i % GROUPS_PER_SOCKET == 0:
            holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            extra.append(holder)
        mreq = struct.pack("4s4s", socket.inet_aton(multicast_group(universe)), iface)
        try:
            holder.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        except OSError:
            failed += 1
    if failed:
        log.warning("live_multicast_join_failed", groups=failed, of=len(universes),
                    hint="no multicast route? unicast E1.31 still works")
    return extra
