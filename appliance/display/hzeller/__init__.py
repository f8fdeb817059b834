"""hzeller's rpi-rgb-led-matrix: the driver and the preflight that runs before it.

``driver`` maps the settings onto ``RGBMatrixOptions`` and holds the panel
(the only importer of ``rgbmatrix``, lazily); ``preflight`` checks options,
device nodes and the sound module first, because a failed library init can
segfault or ``exit(1)`` instead of raising. Re-exports what ``make_display``,
diagnose and the tests use.
"""

from __future__ import annotations

from appliance.display.hzeller.driver import (
    INSTALL_HINT,
    OPTION_MAP,
    OPTIONAL_OPTIONS,
    RGBMatrixDisplay,
    apply_options,
    option_values,
)
from appliance.display.hzeller.preflight import (
    KNOWN_PANEL_TYPES,
    KNOWN_PIXEL_MAPPERS,
    MAX_PARALLEL,
    SOUND_MODULE,
    device_checks,
    module_checks,
    option_checks,
    preflight_checks,
)
from appliance.ops.checks import FAIL, PASS, SKIP, WARN, Check, Level, Machine

__all__ = [
    "FAIL",
    "INSTALL_HINT",
    "KNOWN_PANEL_TYPES",
    "KNOWN_PIXEL_MAPPERS",
    "MAX_PARALLEL",
    "OPTIONAL_OPTIONS",
    "OPTION_MAP",
    "PASS",
    "SKIP",
    "SOUND_MODULE",
    "WARN",
    "Check",
    "Level",
    "Machine",
    "RGBMatrixDisplay",
    "apply_options",
    "device_checks",
    "module_checks",
    "option_checks",
    "option_values",
    "preflight_checks",
]
