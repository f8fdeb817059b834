"""Matrix rain: glowing columns of glyphs streaming down the panel.

Owns the matrix animation. Every column carries two independent drops whose
speed, phase, trail and gap come from ``self.rng`` in ``setup``, so the frame
is a pure function of ``t`` (backwards or jumping ``t`` needs no restart).
Knows nothing of the engine, MQTT, files, clocks or sleep.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from animations.base import Animation, Param, register
from animations.common import LUT_SIZE, finite_time, gradient_lut, to_bytes, wrap

LAYERS = 2


@register
class MatrixRain(Animation):
    """Digital rain in the style of the film, one glyph per LED."""

    name = "matrix"
    title = "Matrix rain"
    description = "Streams of flickering green glyphs raining down, bright at the head."
    params = (
        Param("speed", "float", 1.0, min=0.1, max=5.0, help="How fast the streams fall"),
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
        self._out = np.empty((h, w, 3), np.float32)
        self._layer = np.empty((h, w, 3), np.float32)
        self._bytes = np.empty((h, w, 3), np.uint8)
        rng = self.rng
        self._u_speed = rng.uniform(0.6, 1.4, (LAYERS, w)).astype(np.float32)
        self._u_phase = rng.random((LAYERS, w))
        self._u_trail = rng.uniform(0.6, 1.3, (LAYERS, w)).astype(np.float32)
        self._u_gap = rng.random((LAYERS, w))
        # Glyph brightness pattern: rows of random levels; columns shift through it
        # in whole glyph steps so each LED "changes character" now and then.
        self._glyphs = rng.uniform(0.35, 1.0, (self.GLYPH_ROWS + h, w)).astype(np.float32)
        self._glyph_rate = rng.uniform(2.0, 8.0, w)
        self._glyph_phase = rng.random(w)
        self._cols = np.arange(w)[None, :]
        self._rows = np.arange(h)[:, None]
        self._configure()

    def update_params(self, params: Mapping[str, Any]) -> None:
        """Take new values; the per-column tables stay, the derived ones are rebuilt."""
        super().update_params(params)
        self._configure()

    def _configure(self) -> None:
        h = max(self.height, 1)
        trail_px = np.maximum(self._u_trail * np.float32(self.p["trail"] * h), np.float32(2.0))
        self._inv_trail = (np.float32(1.0) / trail_px).astype(np.float32)
        # Each drop's cycle: fall through the panel plus its trail plus a gap that
        # grows as the density falls.
        gap = self._u_gap * (h * (1.0 / self.p["density"] - 0.8) * 1.5)
        self._period = (h + trail_px + gap).astype(np.float64)
        self._speed_px = self._u_speed * (h * 0.45 + 6.0)
        c = self.p["color"]
        head = (235, 255, 235) if self.p["white_heads"] else c
        # Table over "distance behind the head / trail": 0-1 below the head are dark,
        # 2 is the head, then the trail fades out; the top entries are dark again.
        lut = gradient_lut([(0.0, c), (0.15, tuple(int(v * 0.7) for v in c)),
                            (0.55, tuple(int(v * 0.25) for v in c)), (1.0, (0, 0, 0))])
        lut[0] = head
        full = np.zeros((LUT_SIZE, 3), np.float32)
        full[2 : LUT_SIZE - 2] = lut[: LUT_SIZE - 4]
        self._lut = full

    def draw(self, t: float) -> np.ndarray:
        t = finite_time(t)
        s = t * self.p["speed"]
        out, layer, f, idx = self._out, self._layer, self._f, self._idx
        scale = np.float32(LUT_SIZE - 5)
        for k in range(LAYERS):
            period = self._period[k]
            head = np.floor(
                np.mod(self._u_phase[k] * period + self._speed_px[k] * wrap(s, 1e6), period)
            )
            # Whole rows behind the head, in trail lengths -> table index (2 is the head).
            np.subtract(head.astype(np.float32), self._y, out=f)
            f *= self._inv_trail[k]
            f *= scale
            f += np.float32(2.0)
            np.copyto(idx, f, casting="unsafe")
            np.take(self._lut, idx, axis=0, out=out if k == 0 else layer, mode="clip")
            if k:
                np.maximum(out, layer, out=out)
        # Flickering glyphs: each column steps through the pattern at its own rate.
        step = np.floor(self._glyph_phase + self._glyph_rate * wrap(t, 1e6)).astype(np.intp)
        shift = (step * 7) % self.GLYPH_ROWS
        glyph = self._glyphs[self._rows + shift[None, :], self._cols]
        out *= glyph[..., None]
        return to_bytes(out, self._bytes)
