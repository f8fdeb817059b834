"""Rainbow: the colour wheel flowing across the panel in one of several shapes.

Owns the rainbow animation: a static coordinate field per shape plus a moving
phase, looked up in a uint8 hue table. A pure function of ``t``. Knows nothing
of the engine, MQTT, files, clocks or sleep.
"""

from __future__ import annotations

import numpy as np

from animations.base import TIMES, Animation, Param, register
from animations.common import LUT_SIZE, finite_time, hue_lut, wrap

SHAPES = ("horizontal", "vertical", "diagonal", "radial", "spiral")


@register
class Rainbow(Animation):
    """A flowing rainbow: stripes, rings or a spiral of every hue."""

    name = "rainbow"
    title = "Rainbow"
    description = "All the colours of the rainbow flowing across the panel."
    params = (
        Param("shape", "choice", "diagonal", choices=SHAPES,
              help="Stripes (horizontal, vertical, diagonal), rings (radial) or a spiral"),
        Param("speed", "float", 0.5, min=-5.0, max=5.0,
              help="Colour cycles per second (negative reverses)", title="Speed", unit="cycles/s"),
        Param("scale", "float", 1.0, min=0.1, max=8.0,
              help="Rainbows across the panel (bigger is narrower bands)",
              title="Rainbows across", unit=TIMES),
        Param("saturation", "float", 1.0, min=0.0, max=1.0, help="Colour saturation"),
        Param("brightness", "float", 1.0, min=0.05, max=1.0,
              help="How bright this animation draws; the panel's Brightness applies on top",
              title="Rainbow intensity"),
    )

    def setup(self) -> None:
        h, w = self.height, self.width
        self._f = np.empty((h, w), np.float32)
        self._idx = np.empty((h, w), np.intp)
        self._out = np.empty((h, w, 3), np.uint8)
        self.configure()


    def configure(self) -> None:
        x, y = self.grid()
        w, h = self.width, self.height
        shape = self.p["shape"]
        span = float(max(w, h, 1))
        cx, cy = (w - 1) / 2, (h - 1) / 2
        scale = self.p["scale"]
        if shape == "horizontal":
            turns = x / span * scale
        elif shape == "vertical":
            turns = y / span * scale
        elif shape == "diagonal":
            turns = (x + y) / (2 * span) * scale
        elif shape == "radial":
            turns = np.hypot(x - cx, y - cy) / span * scale
        else:
            # The angle adds exactly one turn around the centre, so the arm is seamless.
            turns = np.hypot(x - cx, y - cy) / span * scale + np.arctan2(y - cy, x - cx) / (
                2 * np.pi
            )
        # The field in hue-table units; the phase is added per frame.
        self._field = (turns * LUT_SIZE).astype(np.float32)
        self._lut = hue_lut(self.p["saturation"], self.p["brightness"])

    def draw(self, t: float) -> np.ndarray:
        t = finite_time(t)
        phase = wrap(-t * self.p["speed"], 1.0) * LUT_SIZE
        np.add(self._field, np.float32(phase), out=self._f)
        np.copyto(self._idx, self._f, casting="unsafe")
        np.take(self._lut, self._idx, axis=0, out=self._out, mode="wrap")
        return self._out
