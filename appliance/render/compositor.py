"""The compositor: a stack of layers, bottom to top, drawn through ONE choke point.

Owns the layer stack and the frame guard (``appliance.render.frame``). Bottom to
top: the base animation, live input (``appliance.render.live_layer``), the dark
panel (power off), a notification, identify. Each layer draws OVER the frame
below it (a banner covers a band; outside it the pixels below are untouched) and
whatever it gives passes the guard. A layer that covers the whole panel this frame
(``opaque``) spares the layers below it their drawing; their clocks run on anyway
(an animation's time comes from the clock, never from the frames drawn). Knows
nothing of MQTT, commands or displays.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from appliance.render.frame import FrameGuard


class Layer(Protocol):
    """One source of pixels in the stack."""

    name: str

    def opaque(self, now: float) -> bool:
        """True when this layer covers the whole panel this frame."""

    def draw(self, now: float, below: np.ndarray, guard: FrameGuard) -> np.ndarray | None:
        """Return this frame drawn over ``below`` through ``guard``, or None to leave it."""


class IdentifyLayer:
    """Flashes the whole panel white and black, four times a second, for a while."""

    name = "identify"

    def __init__(self, width: int, height: int) -> None:
        self.until = 0.0
        self._pixels = np.zeros((height, width, 3), np.uint8)

    def start(self, seconds: float, now: float) -> None:
        """Flash for ``seconds`` from ``now`` (or on, when one already runs for longer)."""
        self.until = max(self.until, now + seconds)

    def opaque(self, now: float) -> bool:
        """Covers everything while identifying."""
        return now < self.until

    def draw(self, now: float, below: np.ndarray, guard: FrameGuard) -> np.ndarray | None:
        """White or black while identifying, else nothing."""
        if now >= self.until:
            return None
        on = int((self.until - now) * 4) % 2 == 0
        self._pixels[...] = 255 if on else 0
        return guard(self._pixels)


class DarkLayer:
    """Black while ``dark()`` says the panel is off (and not fading out)."""

    name = "dark"

    def __init__(self, width: int, height: int, dark: Callable[[], bool]) -> None:
        self.dark = dark
        self._black = np.zeros((height, width, 3), np.uint8)

    def opaque(self, now: float) -> bool:
        """Covers everything while the panel is off."""
        return self.dark()

    def draw(self, now: float, below: np.ndarray, guard: FrameGuard) -> np.ndarray | None:
        """Black when off, else nothing."""
        return guard(self._black) if self.dark() else None


class BaseLayer:
    """The animation layer: what the supervisor draws (it guards each frame itself)."""

    name = "base"

    def __init__(self, draw: Callable[[float], np.ndarray | None]) -> None:
        self._draw = draw

    def opaque(self, now: float) -> bool:
        """An animation fills the panel."""
        return True

    def draw(self, now: float, below: np.ndarray, guard: FrameGuard) -> np.ndarray | None:
        """The supervised animation's frame, or None when even the fallback failed."""
        return self._draw(now)


class Compositor:
    """Draws the stack bottom to top from the highest layer that covers the panel."""

    def __init__(self, guard: FrameGuard, layers: Sequence[Layer]) -> None:
        """``layers`` bottom first; ``guard`` is the choke point the layers draw through
        (the base's supervisor guards its animation's frames itself)."""
        self.guard = guard
        self.layers = list(layers)
        self._black = np.zeros(guard.shape, np.uint8)
        # Bound once (not two method objects per layer per frame): top first, and bottom first.
        self._opaque = [(i, la.opaque) for i, la in reversed(list(enumerate(self.layers)))]
        self._draws = [la.draw for la in self.layers]

    def layer(self, name: str) -> Layer:
        """The layer called ``name``."""
        return next(la for la in self.layers if la.name == name)

    def render(self, now: float) -> np.ndarray:
        """Return this frame: C-contiguous uint8 ``(H, W, 3)``, owned by the guard."""
        guard, draws = self.guard, self._draws
        first = 0
        for i, opaque in self._opaque:
            if opaque(now):
                first = i
                break
        frame: np.ndarray | None = None
        for i in range(first, len(draws)):  # no slice: no list made per frame
            out = draws[i](now, self._black if frame is None else frame, guard)
            if out is not None:
                frame = out
        return guard(self._black) if frame is None else frame
