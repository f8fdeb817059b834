"""Shared numpy building blocks for the built-in animations.

Owns colour look-up tables, sub-pixel point splatting, periodic noise
textures, sky backgrounds and the step clock that turns ``t`` into simulation
steps. Pure computation on arrays: knows nothing of the engine, MQTT, files,
wall clocks or sleep, and registers no animation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

LUT_SIZE = 256


def finite_time(t: float) -> float:
    """Return ``t`` as a float, or 0.0 when it is NaN or infinite."""
    t = float(t)
    return t if math.isfinite(t) else 0.0


def wrap(value: float, period: float) -> float:
    """Return ``value`` modulo ``period`` in float64, keeping float32 phases precise at huge t."""
    return math.fmod(value, period) % period


def to_bytes(pixels: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Clip finite float pixels into the uint8 frame ``out`` in one pass and return it.

    An optimisation, not a safety net: the engine's choke point still checks
    every frame, but a uint8 frame costs it one copy instead of several float
    passes. Only for values finite by construction (NaN has no byte value).
    """
    np.clip(pixels, 0.0, 255.0, out=out, casting="unsafe")
    return out


def hsv_to_rgb(
    h: np.ndarray, s: float | np.ndarray = 1.0, v: float | np.ndarray = 1.0
) -> np.ndarray:
    """Return an ``(..., 3)`` float32 array in 0..1 for hue ``h`` (turns), saturation and value."""
    h = np.asarray(h, np.float32) % np.float32(1.0)
    k = (np.asarray((5.0, 3.0, 1.0), np.float32) + h[..., None] * np.float32(6.0)) % np.float32(6.0)
    f = np.clip(np.minimum(k, np.float32(4.0) - k), 0.0, 1.0)
    s_arr = np.asarray(s, np.float32)[..., None]
    v_arr = np.asarray(v, np.float32)[..., None]
    out: np.ndarray = (v_arr - v_arr * s_arr * f).astype(np.float32)
    return out


def hue_lut(saturation: float = 1.0, value: float = 1.0, size: int = LUT_SIZE) -> np.ndarray:
    """Return a ``(size, 3)`` uint8 rainbow table (one full hue turn)."""
    rgb = hsv_to_rgb(np.arange(size, dtype=np.float32) / size, saturation, value)
    return np.asarray(np.clip(rgb * 255.0 + 0.5, 0, 255), np.uint8)


def gradient_lut(
    stops: Sequence[tuple[float, Sequence[float]]], size: int = LUT_SIZE
) -> np.ndarray:
    """Return a ``(size, 3)`` float32 table interpolating colour ``stops`` at positions 0..1."""
    pos = np.asarray([p for p, _ in stops], np.float64)
    cols = np.asarray([c for _, c in stops], np.float64)
    x = np.linspace(0.0, 1.0, size)
    out = np.empty((size, 3), np.float32)
    for c in range(3):
        out[:, c] = np.interp(x, pos, cols[:, c])
    return out


def lut_u8(lut: np.ndarray, gain: float = 1.0) -> np.ndarray:
    """Return ``lut`` scaled by ``gain`` as a clipped uint8 table."""
    return np.asarray(np.clip(lut * gain + 0.5, 0, 255), np.uint8)


class Splat:
    """Accumulates points into an ``(H, W, 3)`` float32 frame with bilinear weights.

    Sub-pixel weights make slow motion smooth on a coarse LED grid. The
    accumulator has a hidden border (one pixel left and top, two right and
    bottom): points off the panel (and NaN) are pinned onto the border, where
    they fall harmlessly, so no masking is needed and any size down to 1x1
    works. ``frame`` is a (non-contiguous) view of the accumulator's
    interior; the choke point copies it.
    """

    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self._acc = np.zeros((height + 3, width + 3, 3), np.float32)
        self._flat = self._acc.reshape(-1)
        self.frame = self._acc[1 : height + 1, 1 : width + 1]
        row = width + 3
        corner = (np.array([0, 1, row, row + 1], np.intp) * 3).reshape(1, 4, 1)
        self._offsets = corner + np.arange(3, dtype=np.intp).reshape(3, 1, 1)  # (3, 4, 1)
        self._channels = np.arange(3, dtype=np.intp).reshape(3, 1)

    def clear(self) -> None:
        """Set the frame (and its border) to black."""
        self._acc.fill(0.0)

    def _pinned(self, x: np.ndarray, y: np.ndarray, shift: float
                 ) -> tuple[np.ndarray, np.ndarray]:
        """Float32 positions pinned onto the border, then shifted into the padded buffer."""
        # fmax/fmin (unlike clip) also turn NaN into the bound.
        xc = np.fmax(np.asarray(x, np.float32), np.float32(-1.0))
        np.fmin(xc, np.float32(self.width), out=xc)
        xc += np.float32(shift)
        yc = np.fmax(np.asarray(y, np.float32), np.float32(-1.0))
        np.fmin(yc, np.float32(self.height), out=yc)
        yc += np.float32(shift)
        return xc, yc

    def add(
        self, x: np.ndarray, y: np.ndarray, rgb: np.ndarray, weight: np.ndarray | float = 1.0
    ) -> None:
        """Add points at float pixel positions ``x``, ``y`` with colours ``rgb`` (N, 3) or (3,)."""
        # float32 throughout: np.add.at is many times slower when it must cast.
        # (Written for few numpy calls: at a few hundred points, call overhead dominates.)
        xc, yc = self._pinned(x, y, 1.0)
        n = xc.shape[0]
        fx, x0 = np.modf(xc)  # both are non-negative here, so modf is floor and fraction
        fy, y0 = np.modf(yc)
        # Flat index of each point's top-left corner (exact in float32 at panel sizes).
        y0 *= np.float32((self.width + 3) * 3)
        x0 *= np.float32(3.0)
        y0 += x0
        base = y0.astype(np.intp)
        wy = np.empty((2, 1, n), np.float32)
        np.subtract(np.float32(1.0), fy, out=wy[0, 0])
        wy[1, 0] = fy
        wx = np.empty((1, 2, n), np.float32)
        np.subtract(np.float32(1.0), fx, out=wx[0, 0])
        wx[0, 1] = fx
        wx *= np.asarray(weight, np.float32)
        cw = (wy * wx).reshape(1, 4, n)  # corners in order (0,0) (0,1) (1,0) (1,1)
        col = np.asarray(rgb, np.float32)
        col = col.T[:, None, :] if col.ndim == 2 else col.reshape(3, 1, 1)
        np.add.at(self._flat, (base + self._offsets).reshape(-1), (cw * col).reshape(-1))


    def add_nearest(
        self, x: np.ndarray, y: np.ndarray, rgb: np.ndarray, weight: np.ndarray | float = 1.0
    ) -> None:
        """Add points to their nearest pixel: a third of the work of ``add``, for sparks."""
        xc, yc = self._pinned(x, y, 1.5)  # +1 for the border, +0.5 to round by truncation
        n = xc.shape[0]
        yi = yc.astype(np.intp)
        yi *= (self.width + 3) * 3
        xi = xc.astype(np.intp)
        xi *= 3
        yi += xi
        col = np.asarray(rgb, np.float32)
        col = col.T if col.ndim == 2 else col.reshape(3, 1)
        amount = col * np.asarray(weight, np.float32)  # (3, n)
        idx = yi + self._channels  # (3, n)
        if amount.shape != (3, n):
            amount = amount * np.ones((1, n), np.float32)
        np.add.at(self._flat, idx.reshape(-1), amount.reshape(-1))


def periodic_noise(
    rng: np.random.Generator, height: int, width: int, feature_px: float, beta: float = 2.0
) -> np.ndarray:
    """Return a seamless (tileable) smooth noise texture, float32 in 0..1.

    ``feature_px`` is the rough size of a blob in pixels; ``beta`` the spectral
    slope (higher is smoother, cloud-like).
    """
    white = rng.standard_normal((height, width))
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    f[0, 0] = 1.0
    spec = np.fft.rfft2(white) * f ** (-beta / 2.0) * np.exp(-((f * feature_px / 2.0) ** 2))
    spec[0, 0] = 0.0
    n = np.fft.irfft2(spec, s=(height, width))
    lo, hi = float(n.min()), float(n.max())
    n = (n - lo) / (hi - lo) if hi > lo else np.zeros_like(n)
    return np.asarray(n, np.float32)


class ScrollingTexture:
    """A tileable texture sampled at a sub-pixel offset into a panel-sized buffer.

    The offset is the same for every pixel, so bilinear sampling is four
    shifted views with scalar weights: a handful of in-place numpy operations.
    """

    def __init__(self, texture: np.ndarray, width: int, height: int) -> None:
        th, tw = texture.shape
        if th < height + 1 or tw < width + 1:
            raise ValueError("texture must be larger than the panel")
        self.th, self.tw = th, tw
        self.width, self.height = width, height
        self.tiled = np.ascontiguousarray(np.tile(texture, (2, 2)))
        self._tmp = np.empty((height, width), np.float32)

    def sample(self, ox: float, oy: float, out: np.ndarray) -> np.ndarray:
        """Write the texture shifted by (``ox``, ``oy``) pixels into ``out`` (H, W); return it."""
        ox = wrap(ox, self.tw)
        oy = wrap(oy, self.th)
        ix, iy = min(int(ox), self.tw - 1), min(int(oy), self.th - 1)
        fx, fy = ox - ix, oy - iy
        h, w, tex, tmp = self.height, self.width, self.tiled, self._tmp
        np.multiply(tex[iy : iy + h, ix : ix + w], np.float32((1 - fx) * (1 - fy)), out=out)
        np.multiply(tex[iy : iy + h, ix + 1 : ix + 1 + w], np.float32(fx * (1 - fy)), out=tmp)
        out += tmp
        np.multiply(tex[iy + 1 : iy + 1 + h, ix : ix + w], np.float32((1 - fx) * fy), out=tmp)
        out += tmp
        np.multiply(tex[iy + 1 : iy + 1 + h, ix + 1 : ix + 1 + w], np.float32(fx * fy), out=tmp)
        out += tmp
        return out


def texture_size(n: int, minimum: int = 64) -> int:
    """Return a power of two at least ``minimum`` and larger than ``n``."""
    size = minimum
    while size < n + 1:
        size *= 2
    return size


class StarSky:
    """A fixed scatter of twinkling background stars, drawn as a function of t."""

    def __init__(self, rng: np.random.Generator, width: int, height: int, density: float) -> None:
        count = max(1, round(width * height * density))
        self.xs = rng.integers(0, width, count)
        self.ys = rng.integers(0, height, count)
        self.level = rng.uniform(0.25, 1.0, count).astype(np.float32)
        self.rate = rng.uniform(0.5, 2.5, count).astype(np.float32)
        self.phase = rng.uniform(0.0, 2 * np.pi, count).astype(np.float32)
        self._tw = np.empty(count, np.float32)

    def draw(self, frame: np.ndarray, t: float, brightness: float, twinkle: float = 0.6) -> None:
        """Add the stars to ``frame`` (H, W, 3 float32, any strides) at time ``t``."""
        tw = self._tw
        np.multiply(self.rate, np.float32(wrap(t, 2 * math.pi * 1000.0)), out=tw)
        tw += self.phase
        np.sin(tw, out=tw)
        tw *= np.float32(0.5 * twinkle)
        tw += np.float32(1.0 - 0.5 * twinkle)
        tw *= self.level
        tw *= np.float32(brightness)
        frame[self.ys, self.xs] += tw[:, None]


class Stepper:
    """Turns a stream of ``t`` into whole simulation steps at a rate.

    ``advance`` reports a restart when ``t`` goes backwards (or on the first
    call), and clamps the steps of one call to ``max_steps`` so a big jump in
    ``t`` cannot stall a frame.
    """

    def __init__(self, max_steps: int = 4) -> None:
        self.max_steps = max_steps
        self.last_t: float | None = None
        self.phase = 0.0

    def advance(self, t: float, rate_hz: float) -> tuple[bool, int]:
        """Return (restart, steps) for time ``t`` at ``rate_hz`` steps per second."""
        if self.last_t is None or t < self.last_t:
            self.last_t = t
            self.phase = 0.0
            return True, 0
        self.phase += (t - self.last_t) * rate_hz
        self.last_t = t
        steps = int(self.phase)
        self.phase -= steps
        if steps > self.max_steps:
            steps = self.max_steps
            self.phase = 0.0
        return False, steps
