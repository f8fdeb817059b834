"""The rgbmatrix driver: hzeller's rpi-rgb-led-matrix through its ``rgbmatrix`` binding.

Owns the mapping of every display setting onto ``RGBMatrixOptions`` and the
start of the library (after the preflight passed); the canvas discipline
(one offscreen canvas, ``SetImage`` + ``SwapOnVSync``, brightness, blanking)
is ``appliance.display.canvas``. Detects the NULL matrix the library returns
when it cannot start (the binding raises nothing; touching or freeing it segfaults)
and keeps that object alive, untouched, for the life of the process (one small
object per failed start; the panel controller retries with back-off). The only
module that imports ``rgbmatrix``, and only lazily inside ``start``. Knows nothing
of animations, MQTT or the render loop.
"""

from __future__ import annotations

import ctypes
import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

import structlog

from appliance.display import DisplayError
from appliance.display.canvas import CanvasDisplay
from appliance.display.hzeller.preflight import preflight_checks
from appliance.display.hzeller.rp1 import is_pi5
from appliance.ops.checks import FAIL, WARN, Check, Machine
from appliance.settings import DisplaySettings

log = structlog.get_logger("display.rgbmatrix")

INSTALL_HINT = (
    "build and install hzeller's Python binding on the Pi (docs/hardware.md, 'Installing "
    "the library'), or set display.driver to virtual"
)

#: DisplaySettings field -> (RGBMatrixOptions attribute, the library's default value).
OPTION_MAP: dict[str, tuple[str, Any]] = {
    "rows": ("rows", 32),
    "cols": ("cols", 32),
    "chain_length": ("chain_length", 1),
    "parallel": ("parallel", 1),
    "hardware_mapping": ("hardware_mapping", "regular"),
    "gpio_slowdown": ("gpio_slowdown", 1),
    "rp1_rio": ("rp1_rio", 0),
    "pwm_bits": ("pwm_bits", 11),
    "pwm_lsb_nanoseconds": ("pwm_lsb_nanoseconds", 130),
    "pwm_dither_bits": ("pwm_dither_bits", 0),
    "scan_mode": ("scan_mode", 0),
    "row_address_type": ("row_address_type", 0),
    "multiplexing": ("multiplexing", 0),
    "led_rgb_sequence": ("led_rgb_sequence", "RGB"),
    "pixel_mapper_config": ("pixel_mapper_config", ""),
    "panel_type": ("panel_type", ""),
    "limit_refresh_rate_hz": ("limit_refresh_rate_hz", 0),
    "disable_hardware_pulsing": ("disable_hardware_pulsing", False),
    "show_refresh_rate": ("show_refresh_rate", False),
    "brightness": ("brightness", 100),
    "drop_privileges": ("drop_privileges", 1),
    "drop_priv_user": ("drop_priv_user", "daemon"),
    "drop_priv_group": ("drop_priv_group", "daemon"),
}
#: Options whose absence from an older binding is tolerable (the library drops to daemon).
OPTIONAL_OPTIONS = frozenset({"drop_priv_user", "drop_priv_group"})
#: Settings that are bool here but ``uint8_t`` setters in the binding (core.pyx).
UINT8_FLAGS = frozenset({"drop_privileges", "rp1_rio"})


#: What the binding's ``_getCanvas`` raises for a NULL matrix (core.pyx).
NOT_INITIALIZED = "not initialized"
#: Matrices the library never made (NULL inside): held for the life of the process.
_NEVER_FREED: list[Any] = []
NO_MATRIX_HINT = (
    "hzeller's library made no matrix: CreateFromOptions returned NULL (its reason is the "
    "line it printed on stderr just before, e.g. 'Must run as root to be able to access "
    "/dev/mem'; see journalctl -u lightbox-engine)"
)


def library_made(matrix: Any) -> bool:
    """True when the binding holds a real matrix, False when it holds the library's NULL.

    The binding turns a NULL from ``CreateFromOptions`` into no error: ``width``,
    ``CreateFrameCanvas`` and freeing the object segfault on it. Only the calls that go
    through ``_getCanvas`` check for NULL, and ``SetImage`` is one: it raises "Canvas was
    destroyed or not initialized" there, and on a real matrix draws one black pixel.
    """
    from PIL import Image

    try:
        matrix.SetImage(Image.new("RGB", (1, 1)))
    except Exception as exc:
        if NOT_INITIALIZED in str(exc):
            return False
        raise
    return True


def never_free(obj: Any) -> None:
    """Keep ``obj`` alive until the process ends, interpreter shutdown included.

    A binding object holding a NULL matrix segfaults in ``__dealloc__`` (it calls
    ``Clear`` on it): one reference more than anyone holds means it is never freed.
    """
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(obj))
    _NEVER_FREED.append(obj)


def option_values(cfg: DisplaySettings) -> dict[str, Any]:
    """Return the ``RGBMatrixOptions`` values for the settings, typed as the binding wants."""
    out: dict[str, Any] = {}
    for key, (attr, _default) in OPTION_MAP.items():
        value = getattr(cfg, key)
        if isinstance(value, bool):
            # Flags the binding declares as uint8_t (drop_privileges, rp1_rio) must be ints.
            value = int(value) if key in UINT8_FLAGS else value
        out[attr] = value
    return out


def apply_options(options: Any, cfg: DisplaySettings) -> tuple[dict[str, Any], list[str]]:
    """Set every option on ``options``; return (applied, skipped) or raise DisplayError.

    An option the installed binding lacks is skipped when the settings leave it
    at the library's default (or it is a privilege-drop name), else an error
    that says to update the binding.
    """
    applied: dict[str, Any] = {}
    skipped: list[str] = []
    for key, value in option_values(cfg).items():
        default = OPTION_MAP[key][1]
        # Ask the class, not the instance: reading a string option the library left NULL
        # (pixel_mapper_config, panel_type) crashes the real binding (bytes from NULL).
        if not hasattr(type(options), key):
            if key in OPTIONAL_OPTIONS or value == default or value in ("", 0, False):
                skipped.append(key)
                continue
            raise DisplayError(
                f"the installed rgbmatrix binding has no option {key!r} but settings set it to "
                f"{value!r}: update the binding from hzeller/rpi-rgb-led-matrix or reset "
                f"display.{key}"
            )
        try:
            setattr(options, key, value)
        except (TypeError, ValueError, OverflowError, AttributeError) as exc:
            raise DisplayError(
                f"rgbmatrix rejected {key}={value!r} ({exc}): fix display.{key} in settings"
            ) from exc
        applied[key] = value
    if "drop_priv_user" in skipped and cfg.drop_privileges:
        log.warning("drop_priv_user_unsupported", user=cfg.drop_priv_user,
                    hint="this rgbmatrix binding drops privileges to 'daemon'; update it to "
                    "choose the user")
    return applied, skipped


class RGBMatrixDisplay(CanvasDisplay):
    """A HUB75 panel driven by hzeller's library: one canvas, swapped on vsync."""

    name = "rgbmatrix"

    def __init__(
        self,
        cfg: DisplaySettings,
        *,
        machine: Machine | None = None,
        loader: Callable[[str], ModuleType] = importlib.import_module,
    ) -> None:
        super().__init__(cfg)
        self.machine = machine or Machine()
        self.loader = loader
        self.applied: dict[str, Any] = {}
        self.skipped: list[str] = []
        self.binding_version: str | None = None
        self.warnings: list[str] = []

    def preflight(self) -> list[Check]:
        """Run the Python-side checks; raise DisplayError naming the fix on any FAIL."""
        checks = preflight_checks(self.cfg, self.machine)
        fails = [c for c in checks if c.level == FAIL]
        self.warnings = [c.line() for c in checks if c.level == WARN]
        if fails:
            first = fails[0]
            more = f" (and {len(fails) - 1} more problem(s); run `lightbox diagnose`)" \
                if len(fails) > 1 else ""
            self.last_error = f"{first.name}: {first.message}"
            raise DisplayError(f"{first.name}: {first.message}; fix: {first.fix}{more}")
        for w in self.warnings:
            log.warning("rgbmatrix_preflight_warning", check=w)
        return checks

    def start(self) -> None:
        """Check, import the binding, create the matrix and its one offscreen canvas."""
        if self._matrix is not None:
            return  # already holding the panel: a retry after a frame error reuses it
        self.preflight()
        try:
            mod = self.loader("rgbmatrix")
        except ImportError as exc:
            self.last_error = f"rgbmatrix not importable: {exc}"
            raise DisplayError(f"the rgbmatrix module cannot be imported ({exc}); "
                               f"fix: {INSTALL_HINT}") from exc
        self.binding_version = str(getattr(mod, "__version__", "") or "") or None
        options = mod.RGBMatrixOptions()
        if is_pi5(self.machine.model()) and not hasattr(type(options), "rp1_rio"):
            # An older library takes a Pi 5 for a Pi 3 and maps the wrong registers.
            self.last_error = "rgbmatrix predates Pi 5 support"
            raise DisplayError("the installed rgbmatrix predates Pi 5 support (no rp1_rio); "
                               f"fix: {INSTALL_HINT}")
        self.applied, self.skipped = apply_options(options, self.cfg)
        if hasattr(options, "daemon"):
            options.daemon = 0  # systemd supervises us; the library must never fork
        matrix, canvas = self._create(mod, options)
        width, height = int(matrix.width), int(matrix.height)
        if (width, height) != (self.width, self.height):
            self.warnings.append(f"library reports {width}x{height}, settings say "
                                 f"{self.width}x{self.height} (pixel_mapper_config?)")
            log.warning("rgbmatrix_geometry_differs", library=f"{width}x{height}",
                        settings=f"{self.width}x{self.height}")
        self._adopt(matrix, canvas)
        log.info("rgbmatrix_started", geometry=f"{self.width}x{self.height}",
                 mapping=self.cfg.hardware_mapping, gpio_slowdown=self.cfg.gpio_slowdown,
                 skipped_options=self.skipped, binding_version=self.binding_version,
                 euid=self.machine.euid())

    def _create(self, mod: ModuleType, options: Any) -> tuple[Any, Any]:
        """Make the matrix and its one offscreen canvas; never touch a matrix never made."""
        try:
            matrix = mod.RGBMatrix(options=options)
        except Exception as exc:
            self.last_error = f"rgbmatrix init failed: {exc}"
            raise DisplayError(f"rgbmatrix init failed: {exc}; fix: run `lightbox diagnose` "
                               "and check the display settings") from exc
        try:
            made = library_made(matrix)
        except Exception as exc:
            never_free(matrix)  # what it holds is unknown: freeing it may crash
            self.last_error = f"rgbmatrix init failed: {exc}"
            raise DisplayError(f"rgbmatrix init failed: {exc}; fix: run `lightbox diagnose` "
                               "and check the display settings") from exc
        if not made:
            never_free(matrix)
            self.last_error = "rgbmatrix made no matrix (CreateFromOptions returned NULL)"
            log.error("rgbmatrix_no_matrix", hint=NO_MATRIX_HINT)
            raise DisplayError(f"{NO_MATRIX_HINT}; fix: run `lightbox diagnose` as root and "
                               "fix what it reports (device nodes, privileges, display "
                               "settings)")
        try:
            canvas = matrix.CreateFrameCanvas()
        except Exception as exc:
            self.last_error = f"rgbmatrix init failed: {exc}"
            raise DisplayError(f"rgbmatrix init failed: {exc}; fix: run `lightbox diagnose` "
                               "and check the display settings") from exc
        return matrix, canvas

    def health(self) -> dict[str, Any]:
        """Return driver facts."""
        return {
            **self._health(),
            "hardware_mapping": self.cfg.hardware_mapping,
            "gpio_slowdown": self.cfg.gpio_slowdown,
            "brightness_pct": self.brightness_pct,
            "binding_version": self.binding_version,
            "skipped_options": self.skipped,
            "warnings": self.warnings,
            "last_error": self.last_error,
        }
