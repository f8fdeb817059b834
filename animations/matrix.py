"""Matrix rain: glowing columns of glyphs streaming down the panel.

Owns the matrix animation. Every column carries two independent drops whose
speed, phase, trail and gap come from ``self.rng`` in ``setup``, so the frame
is a pure function of ``t`` (backwards or jumping ``t`` needs no restart).
Knows nothing of the engine, MQTT, files, clocks or sleep.
"""

from __future__ import annotations

import numpy as np

from animations.base import TIMES, Animation, Param, register
from animations.common import LUT_SIZE, finite_time, gradient_lut, lut_u8, wrap

LAYERS = 2
TRAIL_STEPS = 200  # colour-table entries from the head to the end of a trail
FLICKER_STEPS = 40  # how far a glyph's flicker can dim it, in colour-table entries


@register
class MatrixRain(Animation):
    """Digital rain in the style of the film, one glyph per LED."""

    name = "matrix"
    title = "Matrix rain"
    group = "Lively"
    description = "Streams of flickering green glyphs raining down, bright at the head."
    params = (
        Param("speed", "float", 1.0, min=0.1, max=5.0, help="How fast the streams fall",
              title="Speed", unit=TIMES),
        Param("density", "float", 0.6, min=0.05, max=1.0,
              help="How busy the rain is (0.05 sparse, 1 a downpour)"),
        Param("trail", "float", 0.5, min=0.1, max=1.0,
              help="Trail length as a fraction of the panel height"),
        Param("color", "color", "#00ff46", help="Colour of the streams"),
        Param("white_heads", "bool", True, help="Draw the leading glyph white"),
    )

    GLYPH_ROWS = 64

    def setup(self) -> None:
        h, w = self.height, self.width
        self._y = np.arange(h, dtype=np.float32)[:, None]
        self._f = np.empty((h, w), np.float32)
        self._idx = np.empty((h, w), np.intp)
        self._idx2 = np.empty((h, w), np.intp)
        self._out = np.empty((h, w, 3), np.uint8)
        rng = self.rng
        self._u_speed = rng.uniform(0.6, 1.4, (LAYERS, w)).astype(np.float32)
        self._u_phase = rng.random((LAYERS, w))
        self._u_trail = rng.uniform(0.6, 1.3, (LAYERS, w)).astype(np.float32)
        self._u_gap = rng.random((LAYERS, w))
        # Glyph flicker: rows of random dimming offsets (in colour-table steps); each
        # column steps through them in whole glyphs, so an LED "changes character".
        self._glyphs = rng.integers(0, FLICKER_STEPS, (self.GLYPH_ROWS + h, w)).astype(np.intp)
        self._glyph_rate = rng.uniform(2.0, 8.0, w)
        self._glyph_phase = rng.random(w)
        self._rows = np.arange(h)[:, None]
        self._flicker = np.zeros((h, w), np.intp)
        self._last_step = np.full(w, np.iinfo(np.intp).min, np.intp)  # nothing fetched yet
        self._below = np.empty((h, w), bool)
        self._g = np.empty((h, w), np.float32)
        self.configure()


    def configure(self) -> None:
        h = max(self.height, 1)
        trail_px = np.maximum(self._u_trail * np.float32(self.p["trail"] * h), np.float32(2.0))
        # Colour-table steps per row behind the head.
        self._steps = (np.float32(TRAIL_STEPS) / trail_px).astype(np.float32)
        # Each drop's cycle: fall through the panel plus its trail plus a gap that
        # grows as the density falls.
        gap = self._u_gap * (h * (1.0 / self.p["density"] - 0.8) * 1.5)
        period = h + trail_px + gap
        self._period = period.astype(np.float64)
        self._period32 = period.astype(np.float32)
        self._speed_px = self._u_speed * (h * 0.45 + 6.0)
        c = self.p["color"]
        head = (235, 255, 235) if self.p["white_heads"] else c
        # Index 0 is the head; the trail fades out by TRAIL_STEPS; the rest is dark.
        f = TRAIL_STEPS / (LUT_SIZE - 1)
        self._lut = lut_u8(gradient_lut([
            (0.0, head), (0.04, c), (0.2 * f, tuple(int(v * 0.7) for v in c)),
            (0.6 * f, tuple(int(v * 0.25) for v in c)), (f, (0, 0, 0)), (1.0, (0, 0, 0)),
        ]))

    def draw(self, t: float) -> np.ndarray:
        t = finite_time(t)
        s = wrap(t * self.p["speed"], 1e6)
        f = self._f
        for k in range(LAYERS):
            period = self._period[k]
            head = np.floor(np.mod(self._u_phase[k] * period + self._speed_px[k] * s, period))
            # Whole rows behind the head; rows below it wrap to the end of the cycle (dark).
            np.subtract(head.astype(np.float32), self._y, out=f)
            np.less(f, np.float32(0.0), out=self._below)
            np.multiply(self._below, self._period32[k], out=self._g)
            f += self._g
            f *= self._steps[k]
            if k == 0:
                np.copyto(self._idx, f, casting="unsafe")
            else:
                np.copyto(self._idx2, f, casting="unsafe")
                np.minimum(self._idx, self._idx2, out=self._idx)  # the brighter layer wins
        # Flickering glyphs: each column steps through the pattern at its own rate; only
        # the columns whose glyphs changed since the last frame are fetched again.
        step = np.floor(self._glyph_phase + self._glyph_rate * wrap(t, 1e6)).astype(np.intp)
        changed = np.flatnonzero(step != self._last_step)
        if changed.size:
            self._last_step = step
            shift = (step[changed] * 7) % self.GLYPH_ROWS
            self._flicker[:, changed] = self._glyphs[self._rows + shift[None, :], changed]
        self._idx += self._flicker
        return np.take(self._lut, self._idx, axis=0, out=self._out, mode="clip")
