"""Display drivers behind one small interface, and the driver chooser.

Drivers receive only safe frames (C-contiguous uint8 ``(H, W, 3)`` from the
colour choke point). Knows nothing of animations, MQTT or the render loop.
"""

from __future__ import annotations

import importlib.util
from typing import Any, Protocol

import numpy as np
import structlog

from appliance.settings import DisplaySettings

log = structlog.get_logger("display")


class DisplayError(RuntimeError):
    """The display failed to start or to show a frame."""


class Display(Protocol):
    """What the render loop needs of a panel."""

    name: str
    width: int
    height: int

    def start(self) -> None:
        """Initialise the hardware (may raise DisplayError)."""

    def show(self, frame: np.ndarray) -> None:
        """Show a safe uint8 frame (may raise DisplayError)."""

    def set_brightness(self, pct: int) -> None:
        """Set panel brightness, 1-100."""

    def clear(self) -> None:
        """Darken the panel."""

    def stop(self) -> None:
        """Darken the panel and release the hardware."""

    def health(self) -> dict[str, Any]:
        """Return driver facts for the health report."""


def rgbmatrix_available() -> bool:
    """Return True when hzeller's ``rgbmatrix`` binding can be imported."""
    return importlib.util.find_spec("rgbmatrix") is not None


def make_display(cfg: DisplaySettings) -> Display:
    """Build the configured driver (``auto``: rgbmatrix where it imports, else virtual)."""
    driver = cfg.driver
    if driver == "auto":
        driver = "rgbmatrix" if rgbmatrix_available() else "virtual"
        log.info("display_auto_selected", driver=driver,
                 reason="rgbmatrix imports" if driver == "rgbmatrix" else "rgbmatrix not installed")
    if driver == "rgbmatrix":
        from appliance.display.hzeller import RGBMatrixDisplay

        return RGBMatrixDisplay(cfg)
    if driver == "emulator":
        from appliance.display.emulator import EmulatorDisplay

        return EmulatorDisplay(cfg)
    from appliance.display.virtual import VirtualDisplay

    return VirtualDisplay.from_env(cfg.width, cfg.height)
