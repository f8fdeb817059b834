"""Cross-fades: the outgoing animation blended into the incoming one over some seconds.

Owns the ``CrossFade`` value (when it started, how long it runs, the incoming
animation's weight at a given moment) and the ``CrossFader`` that holds the
outgoing animation while a fade runs: it draws it on its own clock, mixes
``old * (1 - w) + new * w`` in float32 (rounded) and passes the mix through a
``FrameGuard`` (the colour choke point), so nothing can wrap. The outgoing
animation failing drops it at once (the incoming one simply shows); when the
fade ends, or anything ends it, the outgoing animation is retired with its worker.
Used by the supervisor for ``set`` with a ``transition`` and a new effect; made to
be reused by playlists (``transition_s``). Knows nothing of MQTT, commands,
displays or how the incoming animation is supervised.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import structlog

from appliance.render.factory import ActiveAnimation
from appliance.render.frame import FrameGuard

log = structlog.get_logger("engine")


@dataclass(frozen=True)
class CrossFade:
    """A blend from one animation into another: ``start`` in monotonic seconds."""

    start: float
    seconds: float

    def weight(self, now: float) -> float:
        """The incoming animation's share at ``now``: 0 at the start, rising to 1."""
        if self.seconds <= 0:
            return 1.0
        return min(1.0, max(0.0, (now - self.start) / self.seconds))

    def done(self, now: float) -> bool:
        """True once the incoming animation shows alone."""
        return now - self.start >= self.seconds


#: What draws the outgoing animation: its raw pixels, or ``late`` while a worker still runs
#: (raising whatever the animation raised, or the hang past its budget).
DrawOld = Callable[[ActiveAnimation, float], Any]


class CrossFader:
    """Holds the outgoing animation during a cross-fade and mixes it into each frame."""

    def __init__(self, width: int, height: int, draw_old: DrawOld, late: object,
                 retire: Callable[[ActiveAnimation], None],
                 dropped: Callable[[ActiveAnimation, Exception], None]) -> None:
        self._draw_old = draw_old
        self._late = late
        self._retire = retire
        self._dropped = dropped
        self.guard = FrameGuard(width, height)
        self.old: ActiveAnimation | None = None
        self.fade: CrossFade | None = None
        shape = (height, width, 3)
        self._held = np.zeros(shape, np.uint8)  # the outgoing animation's last frame
        self._has_held = False
        self._mix = np.zeros(shape, np.float32)
        self._part = np.zeros(shape, np.float32)

    @property
    def running(self) -> bool:
        """True while an outgoing animation is being blended out."""
        return self.old is not None

    def start(self, old: ActiveAnimation, seconds: float, now: float) -> None:
        """Blend ``old`` out over ``seconds`` from ``now`` (ending any fade running)."""
        self.end()
        if seconds <= 0:
            self._retire(old)
            return
        self.old = old
        self.fade = CrossFade(now, seconds)
        self._has_held = False
        log.info("crossfade_started", animation=old.name, seconds=seconds)

    def end(self) -> None:
        """Stop blending at once and retire the outgoing animation (and its worker)."""
        old, self.old, self.fade = self.old, None, None
        if old is not None:
            self._retire(old)

    def step(self, now: float) -> None:
        """End the fade once its time is up (called every frame, drawn or not)."""
        if self.fade is not None and self.fade.done(now):
            self.end()

    def mix(self, new: np.ndarray | None, now: float) -> np.ndarray | None:
        """Return ``new`` (a guarded frame) with the outgoing animation blended in."""
        self.step(now)
        old, fade = self.old, self.fade
        if old is None or fade is None or new is None:
            return new
        try:
            pixels = self._draw_old(old, now)
            if pixels is not self._late:
                np.copyto(self._held, self.guard(pixels))
                self._has_held = True
        except Exception as exc:  # the outgoing animation failed: drop it, no fallback
            self.end()
            self._dropped(old, exc)
            return new
        if not self._has_held:
            return new  # an isolated outgoing animation that has not drawn yet
        w = fade.weight(now)
        np.multiply(new, w, out=self._mix, dtype=np.float32, casting="unsafe")
        np.multiply(self._held, 1.0 - w, out=self._part, dtype=np.float32, casting="unsafe")
        self._mix += self._part
        self._mix += 0.5  # round to nearest: the guard's cast truncates (and clips 255.5)
        return self.guard(self._mix)
