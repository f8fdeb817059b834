"""Playful effects: fireworks and bouncing balls.

Owns these two animations. Both are pure functions of ``t``: rocket launch
times, burst shapes and ball paths are computed in closed form from tables
drawn from ``self.rng`` in ``setup``. Knows nothing of the engine, MQTT,
files, clocks or sleep.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from animations.base import TIMES, Animation, Param, register
from animations.common import Splat, finite_time, hsv_to_rgb, to_bytes, wrap


class _Points(NamedTuple):
    """Points to splat, gathered per part (rockets, sparks) and drawn in one call."""

    xs: list[np.ndarray]
    ys: list[np.ndarray]
    cols: list[np.ndarray]
    wts: list[np.ndarray]


@register
class Fireworks(Animation):
    """Rockets rising and bursting into showers of sparks that fall and fade."""

    name = "fireworks"
    title = "Fireworks"
    group = "Lively"
    description = "Rockets shooting up and bursting into colourful, glittering showers."
    params = (
        Param("rate", "float", 0.8, min=0.2, max=3.0, help="Rockets per second",
              title="Rockets", unit="/s"),
        Param("size", "float", 1.0, min=0.3, max=2.0, help="Size of the bursts",
              title="Burst size", unit=TIMES),
        Param("gravity", "float", 1.0, min=0.0, max=3.0, help="How fast the sparks fall",
              title="Gravity", unit=TIMES),
        Param("sparkle", "bool", True, help="Make the sparks glitter as they fade"),
    )

    BURSTS = 32
    SPARKS = 72
    RISE_S = 0.9
    LIFE_S = 2.2
    TRAIL = (0.0, 0.05, 0.1)

    def setup(self) -> None:
        rng = self.rng
        n, k = self.BURSTS, self.SPARKS
        self._bx = rng.uniform(0.15, 0.85, n)
        self._by = rng.uniform(0.2, 0.5, n)
        self._jitter = rng.uniform(0.0, 0.6, n)
        hue = rng.random(n)
        self._rgb = hsv_to_rgb(hue, rng.uniform(0.5, 1.0, n), 1.0)
        ang = rng.uniform(0.0, math.tau, (n, k))
        speed = np.sqrt(rng.uniform(0.05, 1.0, (n, k))) * rng.uniform(0.8, 1.2, (n, 1))
        self._vx = (np.cos(ang) * speed).astype(np.float32)
        self._vy = (np.sin(ang) * speed).astype(np.float32)
        self._rate = rng.uniform(8.0, 25.0, (n, k)).astype(np.float32)
        self._phase = rng.uniform(0.0, math.tau, (n, k)).astype(np.float32)
        self._splat = Splat(self.width, self.height)
        self._bytes = np.empty((self.height, self.width, 3), np.uint8)
        self._trail_s = np.asarray(self.TRAIL)[None, :]  # (1, 3)
        self._trail_w = np.asarray([1.0, 0.45, 0.2])[None, :, None]  # (1, samples, 1)
        self._rocket_trail = np.arange(4.0)[None, :]
        self._rocket_rgb = np.asarray([1.0, 0.8, 0.5], np.float32)
        self._no_flicker = np.ones((1, 1, k), np.float32)
        self._rocket_w = np.asarray([300.0, 120.0, 60.0, 25.0], np.float32)

    def draw(self, t: float) -> np.ndarray:
        t = finite_time(t)
        w, h = self.width, self.height
        interval = 1.0 / self.p["rate"]
        splat = self._splat
        splat.clear()
        # Every burst that may be on screen, all at once: rising rockets and sparks.
        newest = math.floor(t / interval)
        k = np.arange(newest - math.ceil((self.RISE_S + self.LIFE_S) / interval) - 1, newest + 1)
        i = k % self.BURSTS
        tau = t - (k + self._jitter[i]) * interval
        bx = self._bx[i] * (w - 1)
        by = self._by[i] * (h - 1)
        parts = _Points([], [], [], [])
        rising = (tau >= 0.0) & (tau < self.RISE_S)
        if rising.any():
            self._rockets(parts, tau[rising], bx[rising], by[rising])
        age = tau - self.RISE_S
        live = (age >= 0.0) & (age < self.LIFE_S)
        if live.any():
            self._sparks(parts, t, i[live], age[live], bx[live], by[live])
        if parts.xs:
            splat.add_nearest(np.concatenate(parts.xs), np.concatenate(parts.ys),
                              np.concatenate(parts.cols), np.concatenate(parts.wts))
        return to_bytes(splat.frame, self._bytes)

    def _rockets(self, parts: _Points, tau: np.ndarray, bx: np.ndarray, by: np.ndarray) -> None:
        """The rockets: a dot slowing as it climbs, with a short spark trail."""
        h = self.height
        f = 1.0 - (1.0 - tau / self.RISE_S) ** 2
        ry = (h - 1) + (by - (h - 1)) * f
        trail = self._rocket_trail * (0.6 + 0.8 * (1.0 - f))[:, None]  # (r, 4)
        parts.xs.append(np.repeat(bx, 4))
        parts.ys.append((ry[:, None] + trail).ravel())
        # (np.repeat, not np.broadcast_to: the latter costs more than the maths here.)
        parts.cols.append(np.repeat(self._rocket_rgb[None, :], parts.xs[-1].size, axis=0))
        parts.wts.append(np.repeat(self._rocket_w[None, :], len(f), axis=0).ravel())

    def _sparks(self, parts: _Points, t: float, bi: np.ndarray, a_now: np.ndarray,
                bx: np.ndarray, by: np.ndarray) -> None:
        """Sparks: fast out, air drag, then falling; a trail sample behind each."""
        w, h = self.width, self.height
        a = np.maximum(a_now[:, None] - self._trail_s, 0.0)[..., None]  # (b, samples, 1)
        radius = 0.3 * min(w, h) * self.p["size"] + 1.0
        spread = radius * (1.0 - np.exp(-3.0 * a)) / (1.0 - math.exp(-3.0 * self.LIFE_S))
        g = 0.45 * h * self.p["gravity"]
        x = bx[:, None, None] + self._vx[bi][:, None, :] * spread
        y = by[:, None, None] + self._vy[bi][:, None, :] * spread + 0.5 * g * a * a
        life = 1.0 - a_now / self.LIFE_S
        weight = (900.0 * life**1.5)[:, None, None] * self._trail_w  # (b, samples, 1)
        if self.p["sparkle"]:
            angle = np.float32(wrap(t, 1000 * math.tau))
            flick = np.sin(self._rate[bi] * angle + self._phase[bi])
            flick *= np.float32(0.35)
            flick += np.float32(0.65)
        else:
            flick = self._no_flicker
        weight = weight * flick[:, None, :] if flick.ndim == 2 else weight * flick
        # White-hot at first, then the burst's colour.
        hot = np.maximum(0.0, 1.0 - a_now * 5.0)[:, None]
        rgb = self._rgb[bi] * (1.0 - hot) + hot  # (b, 3)
        parts.xs.append(x.ravel())
        parts.ys.append(y.ravel())
        parts.cols.append(np.repeat(rgb, x.shape[1] * x.shape[2], axis=0))
        parts.wts.append(weight.ravel())


@register
class BouncingBalls(Animation):
    """Shiny balls bouncing around the panel."""

    name = "balls"
    title = "Bouncing balls"
    group = "Lively"
    description = "Colourful balls bouncing off the edges, with or without gravity."
    params = (
        Param("count", "int", 5, min=1, max=12, help="Number of balls", title="Balls"),
        Param("size", "float", 0.12, min=0.03, max=0.3,
              help="Ball radius as a fraction of the panel's shorter side", title="Ball size"),
        Param("speed", "float", 1.0, min=0.1, max=4.0, help="How fast the balls move",
              title="Speed", unit=TIMES),
        Param("gravity", "bool", True, help="Balls fall and bounce (off: they float)"),
        Param("saturation", "float", 0.85, min=0.0, max=1.0, help="Colour saturation"),
    )

    MAX_BALLS = 12
    SUBPIXEL = 4

    def setup(self) -> None:
        rng = self.rng
        n = self.MAX_BALLS
        self._x0 = rng.random(n)
        self._y0 = rng.random(n)
        self._vx = rng.uniform(0.15, 0.45, n) * rng.choice((-1.0, 1.0), n)
        self._vy = rng.uniform(0.15, 0.45, n) * rng.choice((-1.0, 1.0), n)
        self._bounce_s = rng.uniform(1.2, 2.4, n)
        self._height = rng.uniform(0.55, 1.0, n)
        self._size = rng.uniform(0.75, 1.25, n)
        # Golden-ratio hue steps: any number of balls gets well-separated colours.
        self._hue = (np.arange(n) * 0.618034 + rng.random()) % 1.0
        self._out = np.zeros((self.height, self.width, 3), np.float32)
        self._bytes = np.empty((self.height, self.width, 3), np.uint8)
        self.configure()


    def configure(self) -> None:
        key = (self.p["size"], self.p["saturation"])
        if getattr(self, "_sprite_key", None) == key:
            return
        self._sprite_key = key
        base_r = max(0.6, self.p["size"] * min(self.width, self.height))
        rgb = hsv_to_rgb(self._hue, self.p["saturation"], 1.0) * np.float32(255.0)
        q = self.SUBPIXEL
        self._radius = [base_r * float(self._size[i]) for i in range(self.MAX_BALLS)]
        # Per ball, a pre-rendered shaded disc for each quarter-pixel offset of its centre,
        # so a frame only blends sprites (one maximum per ball).
        self._sprites: list[np.ndarray] = []
        for i in range(self.MAX_BALLS):
            r = self._radius[i]
            n = math.ceil(r) + 1
            size = 2 * n + 1
            grid = np.arange(size, dtype=np.float32) - np.float32(n)
            frac = np.arange(q, dtype=np.float32) / np.float32(q)
            dx = grid[None, None, None, :] - frac[None, :, None, None]  # (1, qx, 1, size)
            dy = grid[None, None, :, None] - frac[:, None, None, None]  # (qy, 1, size, 1)
            d = np.sqrt(dx * dx + dy * dy)
            cover = np.clip(np.float32(r + 0.5) - d, 0.0, 1.0)
            # A highlight up and to the left gives a 3D look.
            hx = dx + np.float32(0.35 * r)
            hy = dy + np.float32(0.35 * r)
            shade = np.clip(1.0 - np.sqrt(hx * hx + hy * hy) / np.float32(2.2 * r), 0.25, 1.0)
            sprite = (cover * shade)[..., None] * rgb[i]  # (qy, qx, size, size, 3)
            self._sprites.append(np.ascontiguousarray(sprite, np.float32))

    @staticmethod
    def _reflect(u: float, length: float) -> float:
        """Return ``u`` folded into 0..length like a ball bouncing between two walls."""
        if length <= 0:
            return 0.0
        u = wrap(u, 2 * length)
        return u if u <= length else 2 * length - u

    def draw(self, t: float) -> np.ndarray:
        t = finite_time(t)
        w, h = self.width, self.height
        out = self._out
        out.fill(0.0)
        s = t * self.p["speed"]
        q = self.SUBPIXEL
        for i in range(self.p["count"]):
            r = self._radius[i]
            span_x = w - 1 - 2 * r
            span_y = h - 1 - 2 * r
            cx = r + self._reflect(float(self._x0[i]) * max(span_x, 0) + float(self._vx[i]) * s * w,
                                   span_x)
            if self.p["gravity"]:
                period = float(self._bounce_s[i])
                tau = wrap(s + float(self._y0[i]) * period, period) / period
                lift = 4.0 * tau * (1.0 - tau) * float(self._height[i])
                cy = (h - 1 - r) - max(span_y, 0) * lift
            else:
                cy = r + self._reflect(float(self._y0[i]) * max(span_y, 0)
                                       + float(self._vy[i]) * s * h, span_y)
            if span_x < 0:
                cx = (w - 1) / 2
            if span_y < 0:
                cy = (h - 1) / 2
            sprites = self._sprites[i]
            size = sprites.shape[2]
            n = size // 2
            ix, iy = math.floor(cx), math.floor(cy)
            sprite = sprites[min(int((cy - iy) * q), q - 1), min(int((cx - ix) * q), q - 1)]
            # Sprite pixel (0, 0) sits at panel (iy - n, ix - n); clip to the panel.
            x0, y0 = ix - n, iy - n
            px0, py0 = max(x0, 0), max(y0, 0)
            px1, py1 = min(x0 + size, w), min(y0 + size, h)
            if px0 >= px1 or py0 >= py1:
                continue
            region = out[py0:py1, px0:px1]
            np.maximum(region, sprite[py0 - y0 : py1 - y0, px0 - x0 : px1 - x0], out=region)
        return to_bytes(out, self._bytes)
