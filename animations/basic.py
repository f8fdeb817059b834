"""Calm built-ins: breathe (the safe fallback), solid colour and blank."""

from __future__ import annotations

import math

import numpy as np

from animations.base import Animation, Param, register


@register
class Breathe(Animation):
    """A slow rise and fall of one colour: the safe fallback animation."""

    name = "breathe"
    title = "Breathe"
    description = "One colour slowly brightening and dimming. The safe fallback."
    params = (
        Param("color", "color", "#3060ff", help="Colour to breathe"),
        Param("period", "float", 4.0, min=0.5, max=30.0, help="Seconds per breath",
              title="Breath length", unit="s"),
        Param("floor", "float", 0.08, min=0.0, max=1.0, help="Dimmest level (0-1)",
              title="Dimmest level"),
    )

    def setup(self) -> None:
        self._buf = np.empty((self.height, self.width, 3), np.float32)

    def draw(self, t: float) -> np.ndarray:
        phase = 0.5 - 0.5 * math.cos(2 * math.pi * t / self.p["period"])
        level = self.p["floor"] + (1.0 - self.p["floor"]) * phase
        self._buf[...] = np.asarray(self.p["color"], np.float32) * level
        return self._buf


@register
class Solid(Animation):
    """One steady colour."""

    name = "solid"
    title = "Solid colour"
    description = "The whole panel in one colour."
    params = (Param("color", "color", "#ffffff", help="Colour"),)

    def setup(self) -> None:
        self._buf = np.empty((self.height, self.width, 3), np.uint8)

    def draw(self, t: float) -> np.ndarray:
        self._buf[...] = self.p["color"]
        return self._buf


@register
class Blank(Animation):
    """All pixels off: the last-resort fallback that cannot fail."""

    name = "blank"
    title = "Blank"
    description = "All LEDs off."
    category = "utility"

    def setup(self) -> None:
        self._buf = np.zeros((self.height, self.width, 3), np.uint8)

    def draw(self, t: float) -> np.ndarray:
        return self._buf
