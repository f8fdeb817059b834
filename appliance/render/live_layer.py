"""The live layer: realtime input (DDP, E1.31, Art-Net) over the base (contract sections 6, 9).

Owns what the panel shows of a stream: each frame it peeks at the receivers'
``FrameSlot`` and shows a frame with a new ``seq`` (copied into a buffer of its
own, drawn through the one choke point), covering the layers below while live.
Owns the stream's lifetime as the user sees it: ``live_started``/``live_ended``
events, ``state.live`` (published on start, end and a change of sender, never on
every frame), the fps of the last second, ``cmd/live``'s ``auto``/``ignore`` mode
and what ``realtime.on_timeout`` leaves on the panel: ``resume`` (nothing: the base
underneath, which kept its own clock), ``blank`` (black) or ``hold`` (the last
frame); blank and hold last until the next stream frame or a hand-made change of
the look, power or brightness. Runs on the render thread only; ``state()`` and
``figures()`` read plain attributes and are safe from other threads. Knows nothing
of sockets, packets, MQTT or settings files: the receivers fill the slot.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import structlog

from appliance.content.live.model import FrameSlot, LiveCounters, LiveFrame, Protocol
from appliance.render.frame import FrameGuard
from appliance.settings.realtime_schema import RealtimeSettings
from appliance.wire.commands import SetAnimation, SetBrightness, SetLight, SetParams, SetPower
from appliance.wire.look_commands import ApplyPreset, PlayPlaylist, StepPlaylist
from appliance.wire.replies import LiveState

log = structlog.get_logger("engine")

LiveMode = Literal["auto", "ignore"]
#: Commands that end a ``hold`` or ``blank`` left by a stream: a person chose what to see.
HAND_MADE = (SetLight, SetAnimation, SetParams, SetPower, SetBrightness, ApplyPreset,
             PlayPlaylist, StepPlaylist)
#: The fps is measured over this many seconds of live frames.
FPS_WINDOW_S = 1.0
#: A second publish of ``state`` this long after a start, once the fps means something.
FPS_SETTLE_S = 1.0


def any_enabled(rt: RealtimeSettings) -> bool:
    """True when at least one receiver is switched on."""
    return rt.ddp.enabled or rt.e131.enabled or rt.artnet.enabled


class LiveLayer:
    """Shows the newest complete stream frame; decides what stays when the stream stops."""

    name = "live"

    def __init__(self, width: int, height: int, cfg: Callable[[], RealtimeSettings],
                 event: Callable[..., None], changed: Callable[[], None]) -> None:
        """``cfg`` reads the realtime settings in force; ``event`` publishes an event;
        ``changed`` marks the retained state for a publish."""
        self.cfg = cfg
        self.event = event
        self.changed = changed
        self.slot = FrameSlot()  # replaced by the receivers' own in ``attach``
        self.counters = LiveCounters()
        self.mode: LiveMode = "auto"
        self.active = False
        self.protocol: Protocol | None = None
        self.source: str | None = None
        #: What a stream that timed out left on the panel (None: nothing, the base shows).
        self.after: Literal["hold", "blank"] | None = None
        self.fps = 0.0
        self.frames_shown_total = 0  # new stream frames taken into the layer
        self.frames_refused_total = 0  # frames whose geometry or type did not fit the panel
        #: Why the receivers are not listening (set by the service's thread), or None.
        self.receiver_error: str | None = None
        self._buf = np.zeros((height, width, 3), np.uint8)
        self._black = np.zeros((height, width, 3), np.uint8)
        self._seen_seq: int | None = None
        self._last_at = 0.0
        self._rates: deque[tuple[float, int]] = deque(maxlen=4096)
        self._settle_at: float | None = None

    def attach(self, slot: FrameSlot, counters: LiveCounters) -> None:
        """Read frames and figures from the receivers' ``slot`` and ``counters``.

        Safe from the service's thread while the loop runs: two plain assignments, and
        the render thread reads each once per frame."""
        self.slot, self.counters = slot, counters
        self._seen_seq = None

    # ------------------------------------------------------------------ commands
    def set_mode(self, mode: LiveMode) -> None:
        """``cmd/live``: follow streams (``auto``) or ignore them (ends any live state)."""
        if mode == self.mode:
            return
        self.mode = mode
        log.info("live_mode", mode=mode)
        if mode == "ignore":
            self._end("ignored")
            self.after = None
        else:  # only a frame sent from now on shows, never one that arrived while ignored
            latest = self.slot.latest()
            self._seen_seq = latest.seq if latest is not None else self._seen_seq
        self.changed()

    def after_command(self, cmd: object) -> None:
        """A command was applied: a hand-made one ends a ``hold`` or ``blank``."""
        if self.after is not None and isinstance(cmd, HAND_MADE):
            log.info("live_released", was=self.after, command=type(cmd).__name__)
            self.after = None

    # ------------------------------------------------------------------ each frame
    def step(self, now: float) -> None:
        """Take a new frame from the slot, or time the stream out (once per frame)."""
        frame = self.slot.latest()
        if frame is not None and frame.seq != self._seen_seq:
            self._take(frame, now)
        elif self.active and (self._terminated(frame)
                              or now - self._last_at >= self.cfg().timeout_s):
            self._end("terminated" if self._terminated(frame) else "timeout")
            on_timeout = self.cfg().on_timeout
            self.after = None if on_timeout == "resume" else on_timeout
            self.changed()
        if (self.active or self.after) and not any_enabled(self.cfg()):
            self._end("stopped")  # the receivers were switched off in the settings
            self.after = None
            self.changed()
        self._measure(now)

    def _terminated(self, frame: LiveFrame | None) -> bool:
        """The sender said its stream ended (E1.31's stream-terminated flag): the slot was
        cleared, or it notes the end of this source with no newer frame since."""
        return frame is None or self.slot.ended() == (self.source, self._seen_seq)

    def _take(self, frame: LiveFrame, now: float) -> None:
        prev, self._seen_seq = self._seen_seq, frame.seq
        if self.mode == "ignore":
            return
        px = frame.pixels
        if px.shape != self._buf.shape or px.dtype != np.uint8:
            self.frames_refused_total += 1  # a receiver set up for another geometry
            return
        np.copyto(self._buf, px)
        self.frames_shown_total += 1
        # seq counts every frame the receivers completed, so a sender faster than the
        # panel is measured at its own rate (frames replaced in the slot included).
        step = frame.seq - prev if prev is not None and 0 < frame.seq - prev < 1000 else 1
        self._rates.append((now, step))
        self._last_at = now
        self.after = None
        if not self.active:
            self.active = True
            self._started(frame, now)
        elif (frame.protocol, frame.source) != (self.protocol, self.source):
            self._end("replaced")  # arbitration gave the layer to another sender
            self.active = True
            self._started(frame, now)

    def _started(self, frame: LiveFrame, now: float) -> None:
        self.protocol, self.source = frame.protocol, frame.source
        self._settle_at = now + FPS_SETTLE_S
        log.info("live_started", protocol=frame.protocol, source=frame.source)
        self.event("live_started", protocol=frame.protocol, source=frame.source)
        self.changed()

    def _end(self, reason: str) -> None:
        if not self.active:
            return
        log.info("live_ended", protocol=self.protocol, source=self.source, reason=reason)
        self.event("live_ended", protocol=self.protocol, source=self.source, reason=reason)
        self.active = False
        self.protocol = self.source = None
        self._rates.clear()
        self.fps = 0.0
        self._settle_at = None

    def _measure(self, now: float) -> None:
        rates = self._rates
        while rates and now - rates[0][0] >= FPS_WINDOW_S - 1e-6:  # (float slack)
            rates.popleft()
        self.fps = float(sum(n for _, n in rates)) if self.active else 0.0
        if self._settle_at is not None and now >= self._settle_at:
            self._settle_at = None
            self.changed()  # once, so the retained state carries a measured fps

    # ------------------------------------------------------------------ the Layer protocol
    def opaque(self, now: float) -> bool:
        """Covers the whole panel while live, and while it holds or blanks."""
        return self.active or self.after is not None

    def draw(self, now: float, below: np.ndarray, guard: FrameGuard) -> np.ndarray | None:
        """The stream's frame (or the held one, or black) through ``guard``; else nothing."""
        if self.active or self.after == "hold":
            return guard(self._buf)
        if self.after == "blank":
            return guard(self._black)
        return None

    # ------------------------------------------------------------------ reporting
    def state(self) -> LiveState:
        """``state.live`` (plain reads: safe from any thread)."""
        return {"active": self.active, "protocol": self.protocol, "source": self.source,
                "fps": round(self.fps, 1), "mode": self.mode}

    def figures(self) -> dict[str, Any]:
        """The metrics snapshot's live figures (the receivers' counters and the layer's)."""
        c = self.counters
        return {
            "live_frames_total": c.frames_total,
            "live_packets_total": c.packets_total,
            "live_packets_invalid_total": c.packets_invalid_total,
            "live_frames_overwritten_total": c.frames_overwritten_total,
            "live_frames_shown_total": self.frames_shown_total,
            "live_frames_refused_total": self.frames_refused_total,
            "live_fps": round(self.fps, 1),
            "live_active": self.active,
            "live_error": self.receiver_error,
        }
