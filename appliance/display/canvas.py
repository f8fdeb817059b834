"""The canvas base of the drivers built on hzeller's API (rgbmatrix and the emulator).

Owns what both do the same: one matrix and its ONE offscreen canvas (created
once in ``start`` and handed over with ``_adopt``), ``SetImage`` of a PIL RGB
image and ``SwapOnVSync``, brightness on the matrix and on the canvas we draw
into (it lives per framebuffer: else it returns at the old level after the
next swap), blanking both framebuffers, releasing the library on stop, and the
counters health reports. Subclasses own ``start`` (options, import, init) and
``health``. Knows nothing of animations, MQTT or the render loop.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import structlog
from PIL import Image

from appliance.display import DisplayError
from appliance.settings import DisplaySettings


class CanvasDisplay:
    """A panel drawn through a matrix and one offscreen canvas, swapped on vsync."""

    name = "canvas"

    def __init__(self, cfg: DisplaySettings) -> None:
        self.cfg = cfg
        self.width = cfg.width
        self.height = cfg.height
        self.brightness_pct = cfg.brightness
        self.frames_shown = 0
        self.canvases_created = 0
        self.last_error: str | None = None
        self.log = structlog.get_logger(f"display.{self.name}")
        self._matrix: Any = None
        self._canvas: Any = None

    @property
    def started(self) -> bool:
        """True while the library holds the panel."""
        return self._matrix is not None

    def _adopt(self, matrix: Any, canvas: Any) -> None:
        """Take over a freshly made matrix and its one canvas; apply the brightness."""
        self.canvases_created += 1
        self._matrix, self._canvas = matrix, canvas
        self.last_error = None
        self.set_brightness(self.brightness_pct)

    def _failed(self, action: str, exc: BaseException) -> DisplayError:
        """Return the DisplayError for a failed library call."""
        return DisplayError(f"{self.name} {action} failed: {exc}")

    def show(self, frame: np.ndarray) -> None:
        """Draw the frame into the offscreen canvas and swap it in on the next vsync."""
        if self._canvas is None:
            raise DisplayError(f"{self.name} display is not started")
        try:
            self._canvas.SetImage(Image.fromarray(frame, "RGB"))
            self._canvas = self._matrix.SwapOnVSync(self._canvas)
        except (Exception, SystemExit) as exc:  # the emulator's pygame window close exits
            self.last_error = f"{type(exc).__name__}: {exc}"
            raise self._failed("show", exc) from None
        self.frames_shown += 1

    def set_brightness(self, pct: int) -> None:
        """Set the panel brightness (0-100) on the matrix and on the offscreen canvas."""
        pct = max(0, min(100, int(pct)))
        self.brightness_pct = pct
        if self._matrix is None:
            return
        try:
            self._matrix.brightness = pct
            self._canvas.brightness = pct
        except Exception as exc:
            raise self._failed("brightness", exc) from exc

    def clear(self) -> None:
        """Darken the panel: both framebuffers, so no later swap shows an old frame."""
        if self._canvas is None:
            return
        try:
            self._canvas.Clear()
            self._canvas = self._matrix.SwapOnVSync(self._canvas)
            self._canvas.Clear()
        except Exception as exc:
            raise self._failed("clear", exc) from exc

    def stop(self) -> None:
        """Darken the panel and release the library (its refresh thread stops)."""
        try:
            if self._matrix is not None:
                self.clear()
                self._matrix.Clear()
        finally:
            # The binding frees the matrix when its last reference goes; canvases hold
            # one too, so both are dropped.
            self._canvas = None
            self._matrix = None
        self.log.info(f"{self.name}_stopped", frames_shown=self.frames_shown)

    def _health(self) -> dict[str, Any]:
        """Return the facts every canvas driver reports."""
        return {
            "driver": self.name,
            "started": self.started,
            "frames_shown": self.frames_shown,
            "canvases_created": self.canvases_created,
            "geometry": f"{self.width}x{self.height}",
        }
