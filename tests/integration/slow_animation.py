"""A test-only animation that is slow (not hung), loaded through $LIGHTBOX_EXTRA_ANIMATIONS.

Each draw takes ``delay_ms`` while the file named by $LIGHTBOX_SLOW_FLAG exists,
so a test can push the engine's fps under its target and let it recover.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from animations.base import Animation, Param, register


@register
class SlowTest(Animation):
    """Draws a grey frame, slowly while the flag file exists."""

    name = "slow_test"
    title = "Slow (test)"
    category = "test"
    params = (Param("delay_ms", "int", 60, min=0, max=200),)

    def setup(self) -> None:
        self._buf = np.full((self.height, self.width, 3), 30, np.uint8)

    def draw(self, t: float) -> np.ndarray:
        flag = os.environ.get("LIGHTBOX_SLOW_FLAG")
        if flag and Path(flag).exists():
            time.sleep(self.p["delay_ms"] / 1000)
        return self._buf
