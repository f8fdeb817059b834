"""Elemental effects: fire, aurora and ripples.

Owns these three animations. Fire is a small heat simulation stepped at a
fixed rate (deterministic for a seed, restarted when ``t`` goes backwards,
clamped on big jumps); aurora and ripples are pure functions of ``t``.
Knows nothing of the engine, MQTT, files, clocks or sleep.
"""

from __future__ import annotations

import math

import numpy as np

from animations.base import TIMES, Animation, Param, register
from animations.common import (
    LUT_SIZE,
    StarSky,
    Stepper,
    finite_time,
    gradient_lut,
    lut_u8,
    periodic_noise,
    texture_size,
    to_bytes,
    wrap,
)

FIRE_PALETTES: dict[str, list[tuple[float, tuple[int, int, int]]]] = {
    "classic": [(0.0, (0, 0, 0)), (0.2, (90, 0, 0)), (0.45, (220, 50, 0)),
                (0.7, (255, 160, 0)), (0.9, (255, 240, 120)), (1.0, (255, 255, 230))],
    "blue": [(0.0, (0, 0, 0)), (0.25, (0, 0, 100)), (0.5, (0, 60, 230)),
             (0.75, (40, 180, 255)), (1.0, (230, 250, 255))],
    "green": [(0.0, (0, 0, 0)), (0.25, (0, 70, 0)), (0.5, (20, 190, 10)),
              (0.75, (150, 255, 40)), (1.0, (240, 255, 210))],
    "purple": [(0.0, (0, 0, 0)), (0.25, (60, 0, 80)), (0.5, (170, 20, 200)),
               (0.75, (255, 90, 220)), (1.0, (255, 230, 255))],
}


@register
class Fire(Animation):
    """Flickering flames rising from the bottom edge."""

    name = "fire"
    title = "Fire"
    group = "Lively"
    description = "A crackling fire: hot embers at the bottom, flames licking upwards."
    stateful = True
    params = (
        Param("speed", "float", 1.0, min=0.2, max=3.0, help="How fast the flames move",
              title="Speed", unit=TIMES),
        Param("height", "float", 0.7, min=0.2, max=1.5,
              help="Flame height as a fraction of the panel", title="Flame height"),
        Param("palette", "choice", "classic", choices=tuple(FIRE_PALETTES),
              help="Flame colours"),
        Param("brightness", "float", 1.0, min=0.1, max=1.0,
              help="How bright this animation draws; the panel's Brightness applies on top",
              title="Flame intensity"),
    )

    MAX_STEPS_PER_FRAME = 4

    def setup(self) -> None:
        w, h = self.width, self.height
        # Heat grid with two source rows below the panel and a cold column each side.
        self._heat = np.zeros((h + 2, w + 2), np.float32)
        self._tmp = np.empty((h, w), np.float32)
        self._noise = self.rng.random((3 * h + 1, w), dtype=np.float32)
        self._tmp2 = np.empty((h, w), np.float32)
        self._src = np.empty((2, w), np.float32)
        self._idx = np.empty((h, w), np.intp)
        self._out = np.empty((h, w, 3), np.uint8)
        self._stepper = Stepper(self.MAX_STEPS_PER_FRAME)
        # The cooling map: tileable noise, squared for contrast, mean 1, stacked twice
        # vertically so any scroll offset is a plain slice.
        period = texture_size(h)
        noise = periodic_noise(self.rng, period, texture_size(w), max(2.0, w / 10.0), 1.5)
        noise *= noise
        noise /= max(float(noise.mean()), 1e-6)
        self._cool_map = np.ascontiguousarray(np.tile(noise, (2, 1)))
        self._cool_period = period
        self._cool_row = 0
        self._rng_start = self.rng.bit_generator.state
        self.configure()


    def configure(self) -> None:
        self._lut = lut_u8(gradient_lut(FIRE_PALETTES[self.p["palette"]]), self.p["brightness"])
        # The cooling tables scaled once per size and flame height (each step used to
        # multiply a panel-sized slice of each): the same float32 products.
        c = self._cooling
        self._cool_scaled = self._cool_map * np.float32(0.45 * c)
        self._sparkle_scaled = self._noise * np.float32(0.2 * c)

    def _restart(self) -> None:
        self.rng.bit_generator.state = self._rng_start
        self._heat.fill(0.0)
        self._cool_row = 0
        for _ in range(min(self.height, 24)):
            self._step()

    def _step(self) -> None:
        h, w = self.height, self.width
        heat, tmp = self._heat, self._tmp
        rng = self.rng
        # Fresh embers along the two source rows: mostly hot, with flickering gaps.
        src = self._src
        rng.random(out=src, dtype=np.float32)
        np.sqrt(src, out=src)
        np.multiply(src, np.float32(0.55), out=heat[h:, 1 : w + 1])
        heat[h:, 1 : w + 1] += np.float32(0.5)
        # Each cell takes a random blend of the cells below-left and below-right (this
        # jitter flickers the tongues), the cell below, and the cell two below; then cools.
        below = heat[1 : h + 1]
        tmp2 = self._tmp2
        np.subtract(below[:, 0:w], below[:, 2 : w + 2], out=tmp)
        tmp *= self._random_rows()
        tmp += below[:, 2 : w + 2]
        np.add(tmp, below[:, 1 : w + 1], out=tmp)
        tmp *= np.float32(0.4)
        np.multiply(heat[2 : h + 2, 1 : w + 1], np.float32(0.2), out=tmp2)
        tmp += tmp2
        # Cooling: a smooth noise map scrolling up with the flames (this makes the
        # tongues), plus a little per-cell sparkle.
        self._cool_row = (self._cool_row + 1) % self._cool_period
        r0 = self._cool_period - self._cool_row
        tmp -= self._cool_scaled[r0 : r0 + h, 0:w]
        tmp -= self._random_rows(self._sparkle_scaled)
        np.maximum(tmp, np.float32(0.0), out=heat[0:h, 1 : w + 1])

    def _random_rows(self, table: np.ndarray | None = None) -> np.ndarray:
        """Return an (H, W) block of uniform noise: a random window of a pre-drawn table
        (``self._noise``, or ``table``: the same noise scaled).

        Drawing fresh noise for every cell of every step is the costliest part of a
        step; a random row offset into a table three panels tall looks just as random.
        """
        start = int(self.rng.integers(0, 2 * self.height + 1))
        return (self._noise if table is None else table)[start : start + self.height]

    @property
    def _cooling(self) -> float:
        # Mean loss per row so that flames fade after about height * H rows.
        return 2.2 / max(self.p["height"] * self.height, 1.5)

    def draw(self, t: float) -> np.ndarray:
        t = finite_time(t)
        rate = self.p["speed"] * 28.0 * max(1.0, self.height / 32.0)
        restart, steps = self._stepper.advance(t, rate)
        if restart:
            self._restart()
        for _ in range(steps):
            self._step()
        h, w = self.height, self.width
        # Straight into the index array: the float32 product truncated as copyto did.
        np.multiply(self._heat[0:h, 1 : w + 1], np.float32(LUT_SIZE - 1), out=self._idx,
                    casting="unsafe")
        np.take(self._lut, self._idx, axis=0, out=self._out, mode="clip")
        return self._out


@register
class Aurora(Animation):
    """Northern lights: shimmering curtains of colour over a starry sky."""

    name = "aurora"
    title = "Aurora"
    description = "Slowly folding curtains of green and violet light, like the northern lights."
    params = (
        Param("speed", "float", 1.0, min=0.1, max=5.0, help="How fast the curtains move",
              title="Speed", unit=TIMES),
        Param("color_low", "color", "#20ff70", help="Colour at the curtain's lower edge",
              title="Lower colour"),
        Param("color_high", "color", "#9030ff", help="Colour at the curtain's top",
              title="Upper colour"),
        Param("brightness", "float", 0.9, min=0.1, max=1.0,
              help="How bright this animation draws; the panel's Brightness applies on top",
              title="Aurora intensity"),
        Param("stars", "bool", True, help="Show twinkling stars behind the aurora",
              title="Background stars"),
    )

    def setup(self) -> None:
        w, h = self.width, self.height
        x = np.arange(w, dtype=np.float32) / np.float32(max(w, 8))
        self._x = x
        self._y = np.arange(h, dtype=np.float32)[:, None]
        self._base = np.empty(w, np.float32)
        self._inten = np.empty(w, np.float32)
        self._tmp_w = np.empty(w, np.float32)
        self._f = np.empty((h, w), np.float32)
        self._idx = np.empty((h, w), np.intp)
        self._out = np.empty((h, w, 3), np.float32)
        self._bytes = np.empty((h, w, 3), np.uint8)
        self._sky = StarSky(self.rng, w, h, density=0.01)
        self.configure()


    def configure(self) -> None:
        lo = self.p["color_low"]
        hi = self.p["color_high"]
        # Profile over "pixels above the lower edge", scaled to 0..1 of the table:
        # a soft glow below the edge, a bright edge, then a long fade into the top colour.
        mid = tuple(int(0.5 * a + 0.5 * b) for a, b in zip(lo, hi, strict=True))
        stops = [(0.0, (0, 0, 0)), (0.08, tuple(c // 3 for c in lo)), (0.12, lo),
                 (0.35, mid), (0.7, tuple(c // 2 for c in hi)), (1.0, (0, 0, 0))]
        self._lut = gradient_lut(stops) * np.float32(self.p["brightness"])
        self._span = max(6.0, 0.75 * self.height)

    def draw(self, t: float) -> np.ndarray:
        t = finite_time(t)
        s = wrap(t * self.p["speed"], 2000 * math.tau)
        h = self.height
        x, base, inten, tmp = self._x, self._base, self._inten, self._tmp_w
        # Lower edge of the curtain: slow folds.
        np.sin(x * np.float32(4.1) + np.float32(s * 0.31), out=base)
        np.sin(x * np.float32(9.3) - np.float32(s * 0.53), out=tmp)
        tmp *= np.float32(0.5)
        base += tmp
        base *= np.float32(0.13 * h)
        base += np.float32(0.68 * h)
        # Brightness along the curtain: broad folds times fine moving rays.
        np.sin(x * np.float32(3.3) - np.float32(s * 0.41), out=inten)
        np.sin(x * np.float32(7.7) + np.float32(s * 0.23 + 1.0), out=tmp)
        inten *= tmp
        inten += np.float32(1.0)
        inten *= np.float32(0.5)
        np.sin(x * np.float32(47.0) + np.float32(s * 1.7), out=tmp)
        tmp *= np.float32(0.25)
        tmp += np.float32(0.75)
        inten *= tmp
        # Per pixel: height above the lower edge -> colour table index.
        f = self._f
        np.subtract(base, self._y, out=f)
        f *= np.float32((LUT_SIZE - 1) * 0.88 / self._span)
        f += np.float32((LUT_SIZE - 1) * 0.12)
        np.copyto(self._idx, f, casting="unsafe")
        out = self._out
        np.take(self._lut, self._idx, axis=0, out=out, mode="clip")
        out *= inten[None, :, None]
        if self.p["stars"]:
            self._sky.draw(out, t, 90.0)
        return to_bytes(out, self._bytes)


@register
class Ripples(Animation):
    """Raindrops falling into a pond: expanding, interfering rings."""

    name = "ripples"
    title = "Ripples"
    group = "Lively"
    description = "Drops landing on still water, sending out rings that cross and fade."
    params = (
        Param("rate", "float", 1.0, min=0.2, max=4.0, help="Drops per second",
              title="Drops", unit="/s"),
        Param("speed", "float", 1.0, min=0.2, max=4.0, help="How fast the rings spread",
              title="Speed", unit=TIMES),
        Param("color", "color", "#1a70ff", help="Colour of the water", title="Water colour"),
        Param("brightness", "float", 0.9, min=0.1, max=1.0,
              help="How bright this animation draws; the panel's Brightness applies on top",
              title="Water intensity"),
    )

    DROPS = 24
    LIFE_S = 3.0
    MAX_ACTIVE = 6
    PROFILE_HALF_PX = 12.0

    def setup(self) -> None:
        w, h = self.width, self.height
        x, y = self.grid()
        rng = self.rng
        self._px = rng.uniform(0.1, 0.9, self.DROPS) * max(w - 1, 0)
        self._py = rng.uniform(0.1, 0.9, self.DROPS) * max(h - 1, 0)
        self._amp = rng.uniform(0.6, 1.0, self.DROPS)
        self._dist = np.empty((self.DROPS, h, w), np.float32)
        for i in range(self.DROPS):
            np.hypot(x - np.float32(self._px[i]), y - np.float32(self._py[i]), out=self._dist[i])
        self._scale = max(2.0, min(w, h) / 16.0)  # ring width grows a little with the panel
        # Ring profile over u = distance behind the wave front, in table units.
        u = np.linspace(-self.PROFILE_HALF_PX, self.PROFILE_HALF_PX, LUT_SIZE)
        self._profile = (np.cos(u * 1.6) * np.exp(-((u / 4.0) ** 2))).astype(np.float32)
        self._height = np.empty((h, w), np.float32)
        self._f = np.empty((h, w), np.float32)
        self._g = np.empty((h, w), np.float32)
        self._idx = np.empty((h, w), np.intp)
        self._out = np.empty((h, w, 3), np.uint8)
        self.configure()


    def configure(self) -> None:
        c = self.p["color"]
        deep = tuple(int(v * 0.12) for v in c)
        light = tuple(min(255, int(v * 0.5 + 140)) for v in c)
        lut = gradient_lut([(0.0, (0, 0, 0)), (0.45, deep), (0.5, tuple(int(v * 0.2) for v in c)),
                            (0.75, c), (1.0, light)])
        self._lut = lut_u8(lut, self.p["brightness"])

    def draw(self, t: float) -> np.ndarray:
        t = finite_time(t)
        interval = 1.0 / self.p["rate"]
        v = 9.0 * self.p["speed"] * self._scale / 2.0
        height, f, g, idx = self._height, self._f, self._g, self._idx
        height.fill(0.0)
        life_s = min(self.LIFE_S, self.MAX_ACTIVE * interval)
        newest = math.floor(t / interval)
        oldest = math.floor((t - life_s) / interval)
        to_table = (LUT_SIZE - 1) / (2 * self.PROFILE_HALF_PX) / (self._scale / 2.0)
        reach = self.PROFILE_HALF_PX * self._scale / 2.0
        w, h = self.width, self.height
        for k in range(max(oldest, newest - self.MAX_ACTIVE), newest + 1):
            i = k % self.DROPS
            tau = t - k * interval
            if not 0.0 <= tau < life_s:
                continue
            amp = float(self._amp[i]) * (1.0 - tau / life_s) ** 2
            front = v * tau
            # Only the square around the ring can be non-zero.
            r = front + reach
            x0, x1 = max(0, int(self._px[i] - r)), min(w, int(self._px[i] + r) + 2)
            y0, y1 = max(0, int(self._py[i] - r)), min(h, int(self._py[i] + r) + 2)
            fv, gv, iv = f[y0:y1, x0:x1], g[y0:y1, x0:x1], idx[y0:y1, x0:x1]
            # Index into the ring profile: (distance - front) scaled, centred in the table.
            np.subtract(self._dist[i, y0:y1, x0:x1], np.float32(front), out=fv)
            fv *= np.float32(to_table)
            fv += np.float32((LUT_SIZE - 1) / 2)
            np.copyto(iv, fv, casting="unsafe")
            np.take(self._profile, iv, out=gv, mode="clip")
            gv *= np.float32(amp)
            height[y0:y1, x0:x1] += gv
        # Height -> colour: still water sits in the middle of the table.
        height *= np.float32(0.45 * (LUT_SIZE - 1))
        height += np.float32(0.5 * (LUT_SIZE - 1))
        np.copyto(idx, height, casting="unsafe")
        np.take(self._lut, idx, axis=0, out=self._out, mode="clip")
        return self._out
