"""Conway's Game of Life on a wrap-around panel, with fading ghosts of dead cells.

Owns the life animation: a cellular automaton stepped at a fixed rate from
``t``. Deterministic for a seed; restarts from the seed when ``t`` goes
backwards, clamps the generations of one frame on big jumps, and reseeds
itself when the board dies out or settles. Knows nothing of the engine, MQTT,
files, clocks or sleep.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from animations.base import Animation, Param, register
from animations.common import (
    LUT_SIZE,
    Stepper,
    finite_time,
    hsv_to_rgb,
    hue_lut,
    to_bytes,
    wrap,
)

STILL_GENERATIONS = 60  # a board whose population holds this long has settled
REPEAT_WINDOW = 16  # a board that repeats within this many generations is cycling
SETTLED_LINGER = 20  # generations a settled board stays on screen before a reseed


@register
class Life(Animation):
    """Conway's Game of Life: cells are born, live and die by their neighbours."""

    name = "life"
    title = "Game of Life"
    group = "Lively"
    description = "Conway's cellular automaton; reseeds itself when the board settles."
    stateful = True
    params = (
        Param("speed", "float", 10.0, min=1.0, max=60.0, help="Generations per second",
              title="Speed", unit="gen/s"),
        Param("density", "float", 0.3, min=0.05, max=0.9,
              help="Fraction of cells alive when the board is seeded"),
        Param("colors", "choice", "age", choices=("age", "rainbow", "single"),
              help="Colour cells by age, by a drifting rainbow, or all in one colour",
              title="Colouring"),
        Param("color", "color", "#30ff60", help="Cell colour when colors is 'single'",
              title="Cell colour"),
        Param("fade", "float", 0.6, min=0.0, max=0.95,
              help="How slowly dead cells fade (0 = vanish at once)"),
    )

    MAX_STEPS_PER_FRAME = 4

    def setup(self) -> None:
        h, w = self.height, self.width
        self._cells = np.zeros((h, w), np.uint8)
        self._pad = np.zeros((h + 2, w + 2), np.uint8)
        self._count = np.zeros((h, w), np.uint8)
        self._born = np.zeros((h, w), bool)
        self._keep = np.zeros((h, w), bool)
        self._age = np.zeros((h, w), np.uint16)
        self._level = np.zeros((h, w), np.float32)
        self._rand = np.empty((h, w), np.float32)
        self._idx = np.empty((h, w), np.intp)
        self._colour = np.empty((h, w, 3), np.float32)
        self._out = np.empty((h, w, 3), np.float32)
        self._bytes = np.empty((h, w, 3), np.uint8)
        x, y = self.grid()
        self._hue_field = ((x + y) / max(w + h, 1) * LUT_SIZE).astype(np.float32)
        self._hue_lut = hue_lut(0.9, 1.0).astype(np.float32)
        # Young cells white-hot, settling through yellow and green into deep blue.
        ages = np.minimum(np.arange(LUT_SIZE, dtype=np.float32) / 40.0, 1.0)
        age_hue = 0.15 + 0.5 * ages
        self._age_lut = hsv_to_rgb(age_hue, 0.45 + 0.5 * ages, 1.0) * np.float32(255.0)
        self._stepper = Stepper(self.MAX_STEPS_PER_FRAME)
        self._history: deque[int] = deque(maxlen=REPEAT_WINDOW)
        self._still = 0
        self._last_pop = -1
        self._settled_for = -1
        self._rng_start = self.rng.bit_generator.state
        self.generation = 0

    # ------------------------------------------------------------------ simulation
    def _seed(self) -> None:
        self.rng.random(out=self._rand, dtype=np.float32)
        np.less(self._rand, np.float32(self.p["density"]), out=self._born)
        np.copyto(self._cells, self._born)
        self._age.fill(0)
        self._history.clear()
        self._still = 0
        self._last_pop = -1
        self._settled_for = -1

    def _restart(self) -> None:
        self.rng.bit_generator.state = self._rng_start
        self._level.fill(0.0)
        self.generation = 0
        self._seed()
        np.maximum(self._level, self._cells, out=self._level)

    def _step(self) -> None:
        cells, pad, n = self._cells, self._pad, self._count
        h, w = self.height, self.width
        # Wrap-around border, then the sum of the eight neighbours.
        pad[1 : h + 1, 1 : w + 1] = cells
        pad[0, 1 : w + 1] = cells[h - 1]
        pad[h + 1, 1 : w + 1] = cells[0]
        pad[:, 0] = pad[:, w]
        pad[:, w + 1] = pad[:, 1]
        np.add(pad[0:h, 0:w], pad[0:h, 1 : w + 1], out=n)
        n += pad[0:h, 2 : w + 2]
        n += pad[1 : h + 1, 0:w]
        n += pad[1 : h + 1, 2 : w + 2]
        n += pad[2 : h + 2, 0:w]
        n += pad[2 : h + 2, 1 : w + 1]
        n += pad[2 : h + 2, 2 : w + 2]
        born, keep = self._born, self._keep
        # Survivors: alive with two or three neighbours; births: exactly three.
        np.equal(n, 2, out=keep)
        keep &= cells.view(bool)
        np.equal(n, 3, out=born)
        keep |= born  # alive next generation
        born &= ~cells.view(bool)  # newly born (were dead)
        np.copyto(cells, keep)
        self._age += cells  # survivors age; the dead keep their age for their ghost colour
        self._age[born] = 0
        np.minimum(self._age, LUT_SIZE - 1, out=self._age)
        self.generation += 1
        self._check_settled()

    def _check_settled(self) -> None:
        pop = int(np.count_nonzero(self._cells))
        if self._settled_for >= 0:
            self._settled_for += 1
            if self._settled_for >= SETTLED_LINGER or pop == 0:
                self._seed()
            return
        self._still = self._still + 1 if pop == self._last_pop else 0
        self._last_pop = pop
        digest = hash(self._cells.tobytes())
        repeating = digest in self._history
        self._history.append(digest)
        if pop == 0 or repeating or self._still >= STILL_GENERATIONS:
            self._settled_for = 0

    # ------------------------------------------------------------------ drawing
    def draw(self, t: float) -> np.ndarray:
        t = finite_time(t)
        restart, steps = self._stepper.advance(t, self.p["speed"])
        if restart:
            self._restart()
        level = self._level
        fade = np.float32(self.p["fade"])
        for _ in range(steps):
            self._step()
            level *= fade
            np.maximum(level, self._cells, out=level)
        colours = self.p["colors"]
        out = self._out
        if colours == "single":
            np.multiply(level[..., None], np.asarray(self.p["color"], np.float32), out=out)
            return to_bytes(out, self._bytes)
        if colours == "rainbow":
            np.add(self._hue_field, np.float32(wrap(t * 0.05, 1.0) * LUT_SIZE), out=self._rand)
            np.copyto(self._idx, self._rand, casting="unsafe")
            np.take(self._hue_lut, self._idx, axis=0, out=self._colour, mode="wrap")
        else:
            np.copyto(self._idx, self._age)
            np.take(self._age_lut, self._idx, axis=0, out=self._colour, mode="clip")
        np.multiply(self._colour, level[..., None], out=out)
        return to_bytes(out, self._bytes)
