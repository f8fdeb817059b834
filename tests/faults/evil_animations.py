"""Test-only animations that fail on purpose, loaded through $LIGHTBOX_EXTRA_ANIMATIONS.

Each misbehaves while its flag file ``$LIGHTBOX_EVIL_DIR/<name>.fail`` exists
(always, when the variable is unset), so a test switches a fault on and off from
outside the engine process without touching its internals. Never shipped: they
live in tests/, not in the product's ``animations`` package, and so the engine
treats them as untrusted (drawn on a worker thread with a deadline).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from animations.base import Animation, Param, register

EVIL_DIR_ENV = "LIGHTBOX_EVIL_DIR"


def failing(name: str) -> bool:
    """True while the fault of animation ``name`` is switched on."""
    folder = os.environ.get(EVIL_DIR_ENV)
    return folder is None or (Path(folder) / f"{name}.fail").exists()


class _Evil(Animation):
    category = "test"

    def setup(self) -> None:
        self._buf = np.full((self.height, self.width, 3), 40, np.uint8)

    def good(self, t: float) -> np.ndarray:
        self._buf[..., 1] = int(t * 50) % 200 + 20
        return self._buf


@register
class EvilRaise(_Evil):
    """Raises from draw() while its flag exists."""

    name = "evil_raise"
    title = "Evil: raises"

    def draw(self, t: float) -> np.ndarray:
        if failing(self.name):
            raise RuntimeError("evil_raise: injected failure")
        return self.good(t)


@register
class EvilHang(_Evil):
    """Never returns from draw() while its flag exists (busy loop or sleep)."""

    name = "evil_hang"
    title = "Evil: hangs"
    params = (Param("mode", "choice", "busy", choices=("busy", "sleep")),)

    def draw(self, t: float) -> np.ndarray:
        if failing(self.name):
            if self.p["mode"] == "sleep":
                time.sleep(3600)
            x = 0
            while True:  # a pure-Python runaway loop: the GIL still lets other threads run
                x += 1
        return self.good(t)


@register
class EvilGarbage(_Evil):
    """Returns something that cannot be a frame while its flag exists."""

    name = "evil_garbage"
    title = "Evil: garbage"
    params = (Param("kind", "choice", "shape", choices=("shape", "none", "text", "nan")),)

    def draw(self, t: float) -> np.ndarray:
        if not failing(self.name):
            return self.good(t)
        kind = self.p["kind"]
        if kind == "shape":
            return np.zeros((3, 5, 7), np.float32)
        if kind == "none":
            return None  # type: ignore[return-value]
        if kind == "text":
            return np.full((self.height, self.width, 3), "x")
        # NaN / inf / out of range: not a failure, the colour choke point makes it safe.
        out = np.full((self.height, self.width, 3), np.nan, np.float64)
        out[0] = np.inf
        out[1] = -1e300
        out[2] = 1e9
        return out


@register
class EvilLeak(_Evil):
    """Keeps 8 MB more on every frame while its flag exists."""

    name = "evil_leak"
    title = "Evil: leaks"

    def setup(self) -> None:
        super().setup()
        self.hoard: list[np.ndarray] = []

    def draw(self, t: float) -> np.ndarray:
        if failing(self.name):
            self.hoard.append(np.ones(8 * 1024 * 1024 // 8))  # touched, so resident
        return self.good(t)


@register
class EvilFallback(_Evil):
    """A fallback that fails too (so the engine must go to blank)."""

    name = "evil_fallback"
    title = "Evil: failing fallback"

    def draw(self, t: float) -> np.ndarray:
        if failing(self.name):
            raise ValueError("evil_fallback: the fallback is broken too")
        return self.good(t)


@register
class EvilConstructor(_Evil):
    """Cannot even be built while its flag exists (an apply-time failure)."""

    name = "evil_ctor"
    title = "Evil: broken constructor"

    def setup(self) -> None:
        if failing(self.name):
            raise RuntimeError("evil_ctor: cannot allocate its buffers")
        super().setup()

    def draw(self, t: float) -> np.ndarray:
        return self.good(t)
