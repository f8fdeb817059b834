"""Display drivers behind one small interface, and the driver chooser.

Drivers receive only safe frames (C-contiguous uint8 ``(H, W, 3)`` from the
colour choke point). Knows nothing of animations, MQTT or the render loop.
"""

from __future__ import annotations

import importlib.util
from typing import Any, Literal, Protocol

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


def auto_driver() -> Literal["rgbmatrix", "virtual"]:
    """The driver ``auto`` means here: rgbmatrix on a Pi where it imports, else virtual.

    A machine that has the binding but is no Raspberry Pi (a laptop, a CI box, an arm64
    server) gets the virtual panel and a log line that says why, rather than a driver
    whose preflight must fail on the board check.
    """
    from appliance.ops.checks import Machine

    if not rgbmatrix_available():
        log.info("display_auto_selected", driver="virtual", reason="rgbmatrix not installed")
        return "virtual"
    machine = Machine()
    if not machine.is_pi():
        log.warning("display_auto_selected", driver="virtual",
                    reason="rgbmatrix imports but this is not a Raspberry Pi "
                    f"({machine.model() or 'no device-tree model'})",
                    hint="set display.driver rgbmatrix only on a Pi")
        return "virtual"
    log.info("display_auto_selected", driver="rgbmatrix",
             reason="rgbmatrix imports on a Raspberry Pi")
    return "rgbmatrix"


def make_display(cfg: DisplaySettings) -> Display:
    """Build the configured driver (``auto``: rgbmatrix where it imports, else virtual)."""
    driver = cfg.driver
    if driver == "auto":
        driver = auto_driver()
    if driver == "rgbmatrix":
        from appliance.display.hzeller import RGBMatrixDisplay

        return RGBMatrixDisplay(cfg)
    if driver == "emulator":
        from appliance.display.emulator import EmulatorDisplay

        return EmulatorDisplay(cfg)
    from appliance.display.virtual import VirtualDisplay

    return VirtualDisplay.from_env(cfg.width, cfg.height)
