"""Image: plays preloaded picture frames with their own timing.

Pure drawing: the engine loads the frames (``appliance.content.images``) and hands
them over with ``set_frames``; this module does no file I/O and knows nothing
of where images are stored.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from animations.base import TIMES, Animation, Param, register


@register
class ImageAnimation(Animation):
    """A still picture or an animated GIF, frames shown for their own durations."""

    name = "image"
    title = "Image"
    description = "A picture uploaded on the web page (animated GIFs keep their timing)."
    category = "image"
    #: The parameter naming the stored image; the engine loads its frames.
    frames_param = "image"
    params = (
        Param("image", "string", "", max_length=32, help="Id of an uploaded image"),
        Param("speed", "float", 1.0, min=0.1, max=10.0, help="Playback speed of animations",
              title="Playback speed", unit=TIMES),
    )

    def setup(self) -> None:
        self._frames = np.zeros((1, self.height, self.width, 3), np.uint8)
        self._ends = np.zeros(1, np.float64)

    def set_frames(self, frames: np.ndarray, durations_s: Sequence[float]) -> None:
        """Take the frames ``(N, H, W, 3)`` uint8 and how long each shows (seconds)."""
        if frames.ndim != 4 or frames.shape[1:] != (self.height, self.width, 3):
            raise ValueError(f"frames must be (N, {self.height}, {self.width}, 3)")
        self._frames = np.ascontiguousarray(frames, np.uint8)
        d = np.asarray(list(durations_s)[: len(frames)], np.float64)
        if len(d) < len(frames):
            d = np.concatenate([d, np.full(len(frames) - len(d), 0.1)])
        self._ends = np.cumsum(np.maximum(d, 0.0))

    def frame_index(self, t: float) -> int:
        """Return which frame shows at time ``t``."""
        total = float(self._ends[-1]) if len(self._ends) else 0.0
        if len(self._frames) == 1 or total <= 0:
            return 0
        pos = (max(t, 0.0) * self.p["speed"]) % total
        return int(min(np.searchsorted(self._ends, pos, side="right"), len(self._frames) - 1))

    def draw(self, t: float) -> np.ndarray:
        return self._frames[self.frame_index(t)]
