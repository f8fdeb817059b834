"""The compositor: a stack of layers, highest priority first, drawn through ONE choke point.

Owns the layer stack and the frame guard (``appliance.render.frame``): the first
layer that has something to show this frame wins (a priority muxer: identify over
the dark panel over the base animation; live input and notifications slot in
above the base), and whatever it shows has passed the guard. When no layer
draws, the frame is black. Knows nothing of MQTT, commands or displays.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from appliance.render.frame import FrameGuard


class Layer(Protocol):
    """One source of frames; returns a guarded frame, or None to let lower layers show."""

    name: str

    def draw(self, now: float, guard: FrameGuard) -> np.ndarray | None:
        """Return this frame through ``guard``, or None when this layer shows nothing now."""


class IdentifyLayer:
    """Flashes the whole panel white and black, four times a second, for a while."""

    name = "identify"

    def __init__(self, width: int, height: int) -> None:
        self.until = 0.0
        self._pixels = np.zeros((height, width, 3), np.uint8)

    def start(self, seconds: float, now: float) -> None:
        """Flash for ``seconds`` from ``now``."""
        self.until = now + seconds

    def draw(self, now: float, guard: FrameGuard) -> np.ndarray | None:
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

    def draw(self, now: float, guard: FrameGuard) -> np.ndarray | None:
        """Black when off, else nothing."""
        return guard(self._black) if self.dark() else None


class BaseLayer:
    """The animation layer: what the supervisor draws (it guards each frame itself)."""

    name = "base"

    def __init__(self, draw: Callable[[float], np.ndarray | None]) -> None:
        self._draw = draw

    def draw(self, now: float, guard: FrameGuard) -> np.ndarray | None:
        """The supervised animation's frame, or None when even the fallback failed."""
        return self._draw(now)


class Compositor:
    """Draws the first layer that has a frame; black when none has."""

    def __init__(self, guard: FrameGuard, layers: Sequence[Layer]) -> None:
        self.guard = guard
        self.layers = list(layers)
        self._black = np.zeros(guard.shape, np.uint8)

    def render(self, now: float) -> np.ndarray:
        """Return this frame: C-contiguous uint8 ``(H, W, 3)``, owned by the guard."""
        for layer in self.layers:
            frame = layer.draw(now, self.guard)
            if frame is not None:
                return frame
        return self.guard(self._black)
