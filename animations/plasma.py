"""Plasma: overlapping sine fields mapped through a cycling rainbow palette."""

from __future__ import annotations

import numpy as np

from animations.base import Animation, Param, register
from animations.common import to_bytes


@register
class Plasma(Animation):
    """Classic demo-scene plasma."""

    name = "plasma"
    title = "Plasma"
    description = "Flowing sine-wave colour fields."
    params = (
        Param("speed", "float", 1.0, min=0.1, max=5.0, help="Animation speed"),
        Param("scale", "float", 1.0, min=0.2, max=4.0, help="Size of the blobs"),
        Param("saturation", "float", 1.0, min=0.0, max=1.0, help="Colour saturation"),
    )

    def setup(self) -> None:
        x, y = self.grid()
        self._x = x / max(self.width, 1)
        self._y = y / max(self.height, 1)
        self._v = np.empty_like(self._x)
        self._out = np.empty((self.height, self.width, 3), np.float32)
        self._bytes = np.empty((self.height, self.width, 3), np.uint8)

    def draw(self, t: float) -> np.ndarray:
        s = t * self.p["speed"]
        k = 6.0 / self.p["scale"]
        x, y, v = self._x, self._y, self._v
        np.sin(x * k + s, out=v)
        v += np.sin((y * k + s) * 0.7)
        v += np.sin((x + y) * k * 0.6 + s * 1.3)
        v += np.sin(np.hypot(x - 0.5, y - 0.5) * k * 1.5 - s)
        # v in [-4, 4] -> hue angle
        v *= np.float32(np.pi / 4)
        sat = self.p["saturation"]
        base = 127.5 * (1 - sat) + 0.0
        for c, off in enumerate((0.0, 2.094, 4.189)):
            np.sin(v + off + s * 0.3, out=self._out[..., c])
        self._out *= 127.5 * sat
        self._out += 127.5 * sat + base
        return to_bytes(self._out, self._bytes)
