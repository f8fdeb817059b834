"""The realtime receivers' lifetime in the engine process: start, reconfigure, stop.

Owns one ``LiveInput`` (``appliance.content.live.receiver``, the UDP receivers)
and a worker thread that puts the newest wanted ``RealtimeSettings`` in force:
started when any receiver is enabled, reconfigured on a settings change, stopped
when none is, retried every ``RETRY_S`` while it cannot listen (a port in use is a
log line, an event, a health reason: never a crash). Binding sockets never runs
on the render thread: the render thread only calls ``request``. Knows nothing of
packets (the receivers' own), MQTT or the layer stack beyond ``attach`` and
``receiver_error``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

import structlog

from appliance.content.live.model import FrameSlot, LiveCounters
from appliance.render.live_layer import LiveLayer, any_enabled
from appliance.settings.realtime_schema import RealtimeSettings

log = structlog.get_logger("realtime")

#: Seconds between attempts to listen again after a receiver failed to.
RETRY_S = 30.0


class Receivers(Protocol):
    """What the service needs of ``LiveInput``."""

    slot: FrameSlot
    counters: LiveCounters

    def start(self, settings: RealtimeSettings, width: int, height: int) -> None:
        """Bind the enabled receivers and start their threads."""

    def stop(self) -> None:
        """Close every socket and join the threads."""

    def reconfigure(self, settings: RealtimeSettings) -> None:
        """Put changed settings in force (rebinding what changed)."""


def make_receivers(device_id: str = "") -> Receivers | None:
    """A new ``LiveInput`` (``device_id`` names the box to Art-Net senders)."""
    # Imported when realtime input is first switched on: the receivers and their packet
    # parsers are not needed otherwise (nor for the first frame).
    from appliance.content.live.receiver import LiveInput

    return LiveInput(device_id)


class RealtimeService:
    """Applies realtime settings to the receivers on a thread of its own."""

    def __init__(self, layer: LiveLayer, width: int, height: int,
                 event: Callable[..., None],
                 make: Callable[[], Receivers | None] = make_receivers) -> None:
        self.layer = layer
        self.width = width
        self.height = height
        self.event = event
        self.make = make
        self.receivers: Receivers | None = None
        self.running = False
        self._wanted: RealtimeSettings | None = None
        self._applied: RealtimeSettings | None = None
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self, settings: RealtimeSettings) -> None:
        """Start the worker and put ``settings`` in force (returns at once)."""
        self._thread = threading.Thread(target=self._run, name="realtime", daemon=True)
        self._thread.start()
        self.request(settings)

    def request(self, settings: RealtimeSettings) -> None:
        """Put ``settings`` in force soon (thread-safe, never blocks: newest wins)."""
        with self._cond:
            self._wanted = settings
            self._cond.notify()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the worker and the receivers (idempotent)."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self._close()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and self._wanted is None:
                    if not self._cond.wait(RETRY_S) and self.layer.receiver_error:
                        self._wanted = self._applied  # retry what could not listen
                if self._stopping:
                    return
                wanted, self._wanted = self._wanted, None
            if wanted is not None:
                self._apply(wanted)

    def _apply(self, rt: RealtimeSettings) -> None:
        retry = self.layer.receiver_error is not None
        if rt == self._applied and not retry:
            return
        self._applied = rt
        if not any_enabled(rt):
            self._close()
            self._ok()
            return
        try:
            if self.receivers is None:
                self.receivers = self.make()
                if self.receivers is None:
                    self._failed("the realtime receivers are not installed", rt)
                    return
                self.layer.attach(self.receivers.slot, self.receivers.counters)
            if self.running and not retry:
                self.receivers.reconfigure(rt)
            else:
                self._close_sockets()
                self.receivers.start(rt, self.width, self.height)
                self.running = True
        except Exception as exc:  # a port in use, a bad bind address: never a crash
            self.running = True  # a start that failed part-way may hold some sockets
            self._close_sockets()
            self._failed(f"{type(exc).__name__}: {exc}"[:300], rt)
            return
        self._ok()
        log.info("realtime_listening", bind=rt.bind, **_ports(rt))

    def _ok(self) -> None:
        if self.layer.receiver_error is not None:
            log.info("realtime_recovered")
            self.event("realtime_recovered")
        self.layer.receiver_error = None

    def _failed(self, error: str, rt: RealtimeSettings) -> None:
        first = self.layer.receiver_error != error
        self.layer.receiver_error = error
        log.error("realtime_receiver_failed", error=error, bind=rt.bind, retry_in_s=RETRY_S,
                  hint="another program may hold the port: pick another in realtime.*.port",
                  **_ports(rt))
        if first:
            self.event("realtime_receiver_failed", error=error, bind=rt.bind)

    def _close_sockets(self) -> None:
        if self.receivers is not None and self.running:
            self.running = False
            try:
                self.receivers.stop()
            except Exception as exc:  # stopping must go on
                log.warning("realtime_stop_failed", error=f"{type(exc).__name__}: {exc}")

    def _close(self) -> None:
        if self.running:
            self._close_sockets()
            log.info("realtime_stopped")


def _ports(rt: RealtimeSettings) -> dict[str, int]:
    """The enabled receivers' ports, for log lines."""
    return {name: sec.port for name, sec in (("ddp", rt.ddp), ("e131", rt.e131),
                                              ("artnet", rt.artnet)) if sec.enabled}
