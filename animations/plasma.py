"""Plasma: overlapping sine fields mapped through a cycling rainbow palette."""

from __future__ import annotations

import math

import numpy as np

from animations.base import TIMES, Animation, Param, register
from animations.common import LUT_SIZE, finite_time, lut_u8, wrap


@register
class Plasma(Animation):
    """Classic demo-scene plasma."""

    name = "plasma"
    title = "Plasma"
    description = "Flowing sine-wave colour fields."
    params = (
        Param("speed", "float", 1.0, min=0.1, max=5.0, help="Animation speed",
              title="Speed", unit=TIMES),
        Param("scale", "float", 1.0, min=0.2, max=4.0, help="Size of the blobs",
              title="Blob size", unit=TIMES),
        Param("saturation", "float", 1.0, min=0.0, max=1.0, help="Colour saturation"),
    )

    def setup(self) -> None:
        x, y = self.grid()
        self._x = x / max(self.width, 1)
        self._y = y / max(self.height, 1)
        self._d = self._x + self._y
        self._r = np.hypot(self._x - 0.5, self._y - 0.5)
        self._v = np.empty_like(self._x)
        self._tmp = np.empty_like(self._x)
        self._idx = np.empty(self._x.shape, np.intp)
        self._bytes = np.empty((self.height, self.width, 3), np.uint8)
        self.configure()


    def configure(self) -> None:
        # The colour for each hue angle 0..2pi: three phase-shifted sines.
        sat = self.p["saturation"]
        angle = np.arange(LUT_SIZE) * (2 * np.pi / LUT_SIZE)
        rgb = np.sin(angle[:, None] + np.array([0.0, 2.094, 4.189]))
        self._lut = lut_u8(127.5 * sat * rgb + 127.5)

    def _term(self, field: np.ndarray, k: float, phase: float) -> None:
        """Add sin(field * k + phase) to the sum."""
        np.multiply(field, np.float32(k), out=self._tmp)
        self._tmp += np.float32(phase)
        np.sin(self._tmp, out=self._tmp)
        self._v += self._tmp

    def draw(self, t: float) -> np.ndarray:
        s = finite_time(t) * self.p["speed"]
        k = 6.0 / self.p["scale"]
        v = self._v
        # Each phase is wrapped on its own, so float32 stays precise at any t.
        v.fill(0.0)
        self._term(self._x, k, wrap(s, math.tau))
        self._term(self._y, k * 0.7, wrap(s * 0.7, math.tau))
        self._term(self._d, k * 0.6, wrap(s * 1.3, math.tau))
        self._term(self._r, k * 1.5, wrap(-s, math.tau))
        # v in [-4, 4] -> hue angle (v * pi/4) -> colour table index, drifting with time.
        v *= np.float32(LUT_SIZE / 8)
        v += np.float32(wrap(s * 0.3, math.tau) * LUT_SIZE / math.tau)
        np.copyto(self._idx, v, casting="unsafe")
        return np.take(self._lut, self._idx, axis=0, out=self._bytes, mode="wrap")
