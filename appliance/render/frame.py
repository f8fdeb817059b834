"""The colour choke point: the ONE place any pixels become display bytes.

Every frame from every animation passes through ``FrameGuard`` before any
display sees it. It clips to 0..255, maps NaN to 0 and +/-inf to the bounds,
and returns a C-contiguous uint8 ``(H, W, 3)`` array, so "byte must be in
range(0, 256)" cannot happen downstream. Knows nothing of animations or MQTT.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class FrameError(ValueError):
    """The pixels cannot be made into a frame (wrong shape or not numeric)."""


class FrameGuard:
    """Sanitises frames of one geometry into a reused uint8 buffer.

    The returned array is owned by the guard and overwritten by the next call:
    displays copy what they keep.
    """

    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self.shape = (height, width, 3)
        self._out = np.zeros(self.shape, np.uint8)
        self._f32 = np.zeros(self.shape, np.float32)
        #: Frames made so far: tells whether ``last`` still holds a given frame.
        self.frames = 0

    @property
    def last(self) -> np.ndarray:
        """The frame the last call returned (the reused buffer; zeros before the first)."""
        return self._out

    def __call__(self, pixels: Any) -> np.ndarray:
        """Return a safe uint8 frame for ``pixels`` or raise FrameError."""
        if not isinstance(pixels, np.ndarray):
            raise FrameError(f"animation returned {type(pixels).__name__}, not a numpy array")
        if pixels.shape != self.shape:
            raise FrameError(f"frame shape {pixels.shape} does not match panel {self.shape}")
        kind = pixels.dtype.kind
        out = self._out
        self.frames += 1
        if pixels.dtype == np.uint8:
            np.copyto(out, pixels)
        elif kind == "f":
            f = self._f32
            with np.errstate(over="ignore", invalid="ignore"):
                np.copyto(f, pixels, casting="unsafe")  # float64 > 3.4e38 becomes inf
            # fmax/fmin ignore NaN, so NaN -> 0, -inf -> 0 and +inf -> 255 in two passes
            # (nan_to_num + clip took four).
            np.fmax(f, 0.0, out=f)
            np.fmin(f, 255.0, out=f)
            np.copyto(out, f, casting="unsafe")
        elif kind in "iu":
            np.copyto(out, np.clip(pixels, 0, 255), casting="unsafe")
        elif kind == "b":
            np.multiply(pixels, 255, out=out, casting="unsafe")
        else:
            raise FrameError(f"frame dtype {pixels.dtype} is not numeric")
        return out


def safe_frame(pixels: Any, width: int, height: int) -> np.ndarray:
    """Return a fresh safe copy of ``pixels`` (convenience for one-off use)."""
    return FrameGuard(width, height)(pixels).copy()
