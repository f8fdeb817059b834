"""The cosmic family: starfield, nebula, comet and galaxy.

Owns these four animations: each is a pure function of ``t`` built from
per-instance random tables drawn from ``self.rng`` in ``setup``, so any ``t``
(backwards, jumping, huge) draws the right frame with no history. Knows
nothing of the engine, MQTT, files, clocks or sleep.
"""

from __future__ import annotations

import math

import numpy as np

from animations.base import TIMES, Animation, Param, register
from animations.common import (
    LUT_SIZE,
    ScrollingTexture,
    Splat,
    StarSky,
    finite_time,
    gradient_lut,
    periodic_noise,
    texture_size,
    to_bytes,
    wrap,
)

# Brightness across a spiral arm: ((1 + cos) / 2) ** 2 over one turn of the pattern.
_ARM_PROFILE = (((1.0 + np.cos(np.arange(LUT_SIZE) * (math.tau / LUT_SIZE))) / 2.0) ** 2).astype(
    np.float32
)


@register
class Starfield(Animation):
    """Flying through a field of stars, with optional warp streaks."""

    name = "starfield"
    title = "Starfield"
    group = "Lively"
    description = "Stars rushing past as if the panel were a spaceship window."
    params = (
        Param("count", "int", 200, min=10, max=400, help="Number of stars", title="Stars"),
        Param("speed", "float", 1.0, min=0.05, max=5.0, help="Flight speed",
              title="Speed", unit=TIMES),
        Param("streaks", "float", 0.3, min=0.0, max=1.0,
              help="Length of the warp streaks behind each star (0 = points)"),
        Param("color", "color", "#ffffff", help="Colour of the nearest stars",
              title="Star colour"),
    )

    STREAK_SAMPLES = 3
    Z_NEAR = 0.04

    def setup(self) -> None:
        self._splat = Splat(self.width, self.height)
        self._bytes = np.empty((self.height, self.width, 3), np.uint8)
        self._sky_count: int | None = None
        self.configure()

    def configure(self) -> None:
        """A new star count draws a new sky; the rest only re-derives."""
        if self.p["count"] != self._sky_count:
            self._new_sky()
            self._sky_count = self.p["count"]
        self._derive()

    def _new_sky(self) -> None:
        n = self.p["count"]
        rng = self.rng
        w, h = self.width, self.height
        # Positions pre-scaled to pixels at depth 1; depth phase per star.
        self._sx = (rng.uniform(-1.0, 1.0, n) * 0.5 * w).astype(np.float32)
        self._sy = (rng.uniform(-1.0, 1.0, n) * 0.5 * h).astype(np.float32)
        self._z0 = rng.uniform(0.0, 1.0, n).astype(np.float32)
        # Slight per-star tint: most white, a few blue or warm.
        tint = np.ones((n, 3), np.float32)
        tint[:, 0] -= rng.uniform(0.0, 0.25, n).astype(np.float32) * (rng.random(n) < 0.3)
        tint[:, 2] -= rng.uniform(0.0, 0.25, n).astype(np.float32) * (rng.random(n) < 0.3)
        self._tint = tint

    def _derive(self) -> None:
        """Rebuild the per-sample tables (streak lags, fades, colours) from the params."""
        k = self.STREAK_SAMPLES + 1 if self.p["streaks"] > 0 else 1
        # Sample 0 is the star now; the others a little earlier (further away): the streak.
        self._lag = np.arange(k, dtype=np.float32)[:, None] * np.float32(0.06 * self.p["streaks"])
        self._fade = (np.linspace(1.0, 0.25, k)[:, None] * 255.0 * 2.0).astype(np.float32)
        colour = self._tint * (np.asarray(self.p["color"], np.float32) / 255.0)
        self._colour = np.ascontiguousarray(
            np.broadcast_to(colour, (k, *colour.shape)).reshape(-1, 3)
        )

    def draw(self, t: float) -> np.ndarray:
        t = finite_time(t)
        w, h = self.width, self.height
        phase = np.float32(wrap(t * self.p["speed"] * 0.25, 1.0))
        frac = self._z0 - self._lag  # (k, n)
        frac += phase
        frac %= np.float32(1.0)
        # Depth runs from 1 (far) to Z_NEAR (passing the window).
        near = frac * np.float32(1.0 - self.Z_NEAR)
        inv_z = np.float32(1.0) / (np.float32(1.0) - near)
        x = self._sx * inv_z
        x += np.float32((w - 1) / 2)
        y = self._sy * inv_z
        y += np.float32((h - 1) / 2)
        bright = near * self._fade
        if len(frac) > 1:
            # Never streak across the wrap-around (from nearest back to farthest).
            bright *= frac <= frac[0:1]
        splat = self._splat
        splat.clear()
        splat.add(x.reshape(-1), y.reshape(-1), self._colour, bright.reshape(-1))
        return to_bytes(splat.frame, self._bytes)


NEBULA_PALETTES: dict[str, list[tuple[float, tuple[int, int, int]]]] = {
    "cosmic": [(0.0, (40, 10, 90)), (0.45, (170, 30, 140)), (0.75, (60, 90, 255)),
               (1.0, (255, 200, 230))],
    "emerald": [(0.0, (0, 30, 40)), (0.5, (0, 160, 110)), (0.8, (90, 230, 200)),
                (1.0, (230, 255, 240))],
    "ember": [(0.0, (60, 0, 10)), (0.45, (200, 40, 10)), (0.8, (255, 150, 30)),
              (1.0, (255, 240, 190))],
    "ice": [(0.0, (5, 10, 60)), (0.5, (30, 90, 220)), (0.8, (120, 200, 255)),
            (1.0, (240, 250, 255))],
}


@register
class Nebula(Animation):
    """Slowly drifting, glowing gas clouds with twinkling stars behind them."""

    name = "nebula"
    title = "Nebula"
    description = "Colourful interstellar clouds drifting over a field of twinkling stars."
    params = (
        Param("speed", "float", 1.0, min=0.1, max=5.0, help="Drift speed of the clouds",
              title="Speed", unit=TIMES),
        Param("scale", "float", 1.0, min=0.3, max=3.0, help="Size of the clouds",
              title="Cloud size", unit=TIMES),
        Param("palette", "choice", "cosmic", choices=tuple(NEBULA_PALETTES),
              help="Colours of the gas"),
        Param("brightness", "float", 0.9, min=0.1, max=1.0, help="Brightness of the clouds",
              title="Cloud intensity"),
        Param("stars", "bool", True, help="Show twinkling background stars",
              title="Background stars"),
    )

    def setup(self) -> None:
        w, h = self.width, self.height
        self._a = np.empty((h, w), np.float32)
        self._b = np.empty((h, w), np.float32)
        self._idx = np.empty((h, w), np.intp)
        self._out = np.empty((h, w, 3), np.float32)
        self._bytes = np.empty((h, w, 3), np.uint8)
        self._sky = StarSky(self.rng, w, h, density=0.012)
        self.configure()


    def configure(self) -> None:
        key = (self.p["scale"],)
        if getattr(self, "_tex_key", None) != key:
            self._tex_key = key
            w, h = self.width, self.height
            th, tw = texture_size(h), texture_size(w)
            rng = np.random.default_rng(self.rng.integers(2**32))
            feature = max(3.0, 0.45 * max(w, h, 16)) * self.p["scale"]
            self._tex_a = ScrollingTexture(periodic_noise(rng, th, tw, feature, 2.4), w, h)
            self._tex_b = ScrollingTexture(periodic_noise(rng, th, tw, feature * 0.6, 2.0), w, h)
        self._lut = gradient_lut(NEBULA_PALETTES[self.p["palette"]]) * np.float32(
            self.p["brightness"]
        )

    def draw(self, t: float) -> np.ndarray:
        t = finite_time(t)
        s = t * self.p["speed"]
        a, b, out = self._a, self._b, self._out
        span = max(self.width, self.height, 16)
        self._tex_a.sample(s * 0.1 * span / 16, s * 0.042 * span / 16, a)
        self._tex_b.sample(-s * 0.066 * span / 16, s * 0.094 * span / 16, b)
        # Colour from the fine layer, density from both.
        np.multiply(b, np.float32(255.0), out=b)
        np.copyto(self._idx, b, casting="unsafe")
        np.take(self._lut, self._idx, axis=0, out=out, mode="clip")
        # density: contrast-stretched product of the layers.
        np.multiply(a, b, out=a)
        a *= np.float32(2.2 / 255.0)
        a -= np.float32(0.35)
        np.clip(a, 0.0, 1.0, out=a)
        out *= a[..., None]
        if self.p["stars"]:
            self._sky.draw(out, t, 200.0)
        return to_bytes(out, self._bytes)


@register
class Comet(Animation):
    """A comet swinging around the panel, trailing a glittering tail."""

    name = "comet"
    title = "Comet"
    group = "Lively"
    description = "A bright comet on a looping orbit with a sparkling, fading tail."
    params = (
        Param("speed", "float", 1.0, min=0.1, max=5.0, help="Orbit speed",
              title="Speed", unit=TIMES),
        Param("tail", "float", 2.0, min=0.2, max=4.0, help="Tail length in seconds of flight",
              title="Tail length", unit="s"),
        Param("color", "color", "#40c0ff", help="Colour of the tail", title="Tail colour"),
        Param("stars", "bool", True, help="Show twinkling background stars",
              title="Background stars"),
    )

    PARTICLES = 260

    def setup(self) -> None:
        n = self.PARTICLES
        rng = self.rng
        self._age = np.sort(rng.random(n).astype(np.float32) ** 1.15)
        self._spread = rng.standard_normal(n).astype(np.float32)
        self._rate = rng.uniform(3.0, 12.0, n).astype(np.float32)
        self._phase = rng.uniform(0.0, math.tau, n).astype(np.float32)
        self._sky = StarSky(rng, self.width, self.height, density=0.01)
        self._splat = Splat(self.width, self.height)
        self._bytes = np.empty((self.height, self.width, 3), np.uint8)
        self._head_dx = np.array([0.0, 0.6, -0.6, 0.0, 0.0], np.float32)
        self._head_dy = np.array([0.0, 0.0, 0.0, 0.6, -0.6], np.float32)
        self._head_w = np.array([2.2, 0.6, 0.6, 0.6, 0.6], np.float32) * 255.0
        self._head_rgb = np.ones((5, 3), np.float32)
        self._age[0] = 0.0
        fade = (1.0 - self._age) ** 1.5 * 170.0
        self._weight = (fade * 0.75).astype(np.float32)
        self._weight_sparkle = (fade * 0.25).astype(np.float32)
        self._spread_px = (
            self._spread * np.sqrt(self._age) * (0.05 * min(self.width, self.height) + 0.4)
        ).astype(np.float32)
        # White-hot near the head, the tail colour further back.
        mix = np.clip(self._age * 8.0, 0.0, 1.0)[:, None].astype(np.float32)
        self._white_mix = np.float32(1.0) - mix
        self._colour_mix = mix

    def _path(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the orbit position at orbit angle ``s`` (an eccentric, tilted loop)."""
        w, h = self.width, self.height
        u = s + np.float32(0.45) * np.sin(s)  # faster near one end, like a real orbit
        x = np.float32((w - 1) / 2) + np.float32(0.44 * w) * np.cos(u)
        y = np.float32((h - 1) / 2) + np.float32(0.36 * h) * np.sin(u) * np.cos(u * 0.5)
        return x, y

    def draw(self, t: float) -> np.ndarray:
        t = finite_time(t)
        omega = 0.6 * self.p["speed"]
        s_now = wrap(t * omega, 4 * math.pi)
        # Particle 0 sits at age 0: the head. Ages are sorted, so neighbours give the direction.
        s = np.float32(s_now) - self._age * np.float32(self.p["tail"] * omega)
        x, y = self._path(s)
        dx = np.empty_like(x)
        dy = np.empty_like(y)
        np.subtract(x[:-1], x[1:], out=dx[1:])
        np.subtract(y[:-1], y[1:], out=dy[1:])
        dx[0], dy[0] = dx[1], dy[1]
        norm = np.hypot(dx, dy)
        norm += np.float32(1e-6)
        spread = self._spread_px / norm
        x -= dy * spread
        y += dx * spread
        sparkle = np.sin(self._rate * np.float32(wrap(t, 1000 * math.tau)) + self._phase)
        sparkle *= self._weight_sparkle
        sparkle += self._weight
        tail_rgb = np.asarray(self.p["color"], np.float32) / np.float32(255.0)
        rgb = self._white_mix + self._colour_mix * tail_rgb
        splat = self._splat
        splat.clear()
        if self.p["stars"]:
            self._sky.draw(splat.frame, t, 130.0)
        splat.add(
            np.concatenate((x, x[0] + self._head_dx)),
            np.concatenate((y, y[0] + self._head_dy)),
            np.concatenate((rgb, self._head_rgb)),
            np.concatenate((sparkle, self._head_w)),
        )
        return to_bytes(splat.frame, self._bytes)


@register
class Galaxy(Animation):
    """A rotating spiral galaxy with a glowing core and orbiting stars."""

    name = "galaxy"
    title = "Galaxy"
    description = "A spiral galaxy turning slowly, its arms sprinkled with stars."
    params = (
        Param("arms", "int", 2, min=1, max=6, help="Number of spiral arms", title="Spiral arms"),
        Param("speed", "float", 1.0, min=0.1, max=5.0, help="Rotation speed",
              title="Speed", unit=TIMES),
        Param("twist", "float", 4.0, min=1.0, max=10.0, help="How tightly the arms wind"),
        Param("tilt", "float", 0.75, min=0.3, max=1.0,
              help="Viewing angle: 1 is face-on, lower is tilted"),
        Param("color", "color", "#6a7cff", help="Colour of the arms", title="Arm colour"),
        Param("stars", "int", 120, min=0, max=400, help="Number of orbiting stars"),
    )

    def setup(self) -> None:
        h, w = self.height, self.width
        self._v = np.empty((h, w), np.float32)
        self._idx = np.empty((h, w), np.intp)
        self._splat = Splat(w, h)
        self._out = self._splat.frame
        #: The frame seen channel first: the arms are drawn one plane at a time, with
        #: contiguous inner loops (broadcasting v over the 3 channels made a loop of 3).
        self._out_planes = self._out.transpose(2, 0, 1)
        self._planes = np.empty((3, h, w), np.float32)
        self._white = np.ones(3, np.float32)
        self._bytes = np.empty((h, w, 3), np.uint8)
        self.configure()


    def configure(self) -> None:
        x, y = self.grid()
        w, h = self.width, self.height
        radius = 0.5 * max(min(w, h), 2)
        tilt = self.p["tilt"]
        dx = (x - np.float32((w - 1) / 2)) / np.float32(radius)
        dy = (y - np.float32((h - 1) / 2)) / np.float32(radius * tilt)
        r = np.hypot(dx, dy)
        theta = np.arctan2(dy, dx)
        arms = self.p["arms"]
        spiral = arms * theta + self.p["twist"] * np.log(r + 0.08)
        # In arm-profile table units (one table length per 2*pi), offset so it stays positive.
        self._spiral = (np.mod(spiral, math.tau) * (LUT_SIZE / math.tau)).astype(np.float32)
        falloff = np.exp(-r * 2.2) * (r < 1.6)
        core = np.exp(-((r / 0.16) ** 2)) * 1.3
        arm_rgb = np.asarray(self.p["color"], np.float32)
        core_rgb = np.asarray((255, 225, 180), np.float32)
        # Inner arms warmer, outer arms the chosen colour.
        mix = np.clip(r * 1.6, 0.0, 1.0)[..., None]
        arm_field = (core_rgb * (1 - mix) + arm_rgb * mix) * falloff[..., None]
        # Channel first (3, H, W), as draw() uses them.
        self._arm = np.ascontiguousarray((arm_field * 0.8).astype(np.float32).transpose(2, 0, 1))
        self._base = np.ascontiguousarray(
            (arm_field * 0.22 + core[..., None] * core_rgb).astype(np.float32).transpose(2, 0, 1))
        # The star count is for a 64x64 panel; smaller panels get proportionally fewer.
        n = round(self.p["stars"] * min(1.0, w * h / 4096))
        rng = self.rng
        self._sr = (rng.random(n) ** 0.7 * 1.05 + 0.05).astype(np.float32)
        self._st = rng.uniform(0.0, math.tau, n).astype(np.float32)
        self._sb = rng.uniform(60.0, 220.0, n).astype(np.float32)
        self._radius = radius
        # Per star, what draw() would compute the same way every frame.
        self._s_den = self._sr + np.float32(0.3)
        self._s_rx = self._sr * np.float32(radius)

    def draw(self, t: float) -> np.ndarray:
        t = finite_time(t)
        rot = t * 0.25 * self.p["speed"]
        v, out = self._v, self._out
        shift = wrap(rot * self.p["arms"], math.tau) * (LUT_SIZE / math.tau)
        # Straight into the index array: the float32 difference truncated as copyto did.
        np.subtract(self._spiral, np.float32(shift), out=self._idx, casting="unsafe")
        np.take(_ARM_PROFILE, self._idx, out=v, mode="wrap")
        planes = self._planes
        np.multiply(self._arm, v, out=planes)
        np.add(planes, self._base, out=self._out_planes)
        if len(self._sr):
            # Stars orbit faster near the centre (differential rotation).
            ang = self._st + np.float32(wrap(rot, 1000 * math.tau)) * np.float32(1.6) / self._s_den
            rx = self._s_rx
            sx = np.float32((self.width - 1) / 2) + np.cos(ang) * rx
            sy = np.float32((self.height - 1) / 2) + np.sin(ang) * rx * np.float32(self.p["tilt"])
            self._splat.add(sx, sy, self._white, self._sb)
        return to_bytes(out, self._bytes)
