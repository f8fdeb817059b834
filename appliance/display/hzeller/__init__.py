"""The hardware driver: hzeller's rpi-rgb-led-matrix through its ``rgbmatrix`` binding.

Owns the preflight checks (options, device nodes, sound module) that run in
Python BEFORE the library is touched, because a failed library init can
segfault or ``exit(1)`` instead of raising; the mapping of every display
setting onto ``RGBMatrixOptions``; the one offscreen canvas and the
``SetImage`` + ``SwapOnVSync`` double buffering. The only module that imports
``rgbmatrix``, and only lazily inside ``start``. Knows nothing of animations,
MQTT or the render loop.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import numpy as np
import structlog
from PIL import Image

from appliance.display import DisplayError
from appliance.settings import HARDWARE_MAPPINGS, DisplaySettings

log = structlog.get_logger("display.rgbmatrix")

Level = Literal["PASS", "WARN", "FAIL", "SKIP"]
PASS: Level = "PASS"
WARN: Level = "WARN"
FAIL: Level = "FAIL"
#: Not applicable on this machine (never a failure).
SKIP: Level = "SKIP"

#: How many parallel chains each hardware mapping wires (hzeller's lib/hardware-mapping.c).
MAX_PARALLEL = {
    "regular": 3,
    "adafruit-hat": 1,
    "adafruit-hat-pwm": 1,
    "regular-pi1": 1,
    "classic": 3,
    "classic-pi1": 1,
    "compute-module": 6,
}
#: Pixel mappers built into the library (``Name`` or ``Name:param``, ``;``-separated).
KNOWN_PIXEL_MAPPERS = ("U-mapper", "V-mapper", "Rotate", "Mirror", "Remap")
#: Panel initialisation sequences the library knows (empty means none needed).
KNOWN_PANEL_TYPES = ("FM6126A", "FM6127")
#: The sound module that shares the PWM hardware: the library refuses to run with it loaded.
SOUND_MODULE = "snd_bcm2835"
INSTALL_HINT = (
    "build and install hzeller's Python binding on the Pi (docs/hardware.md, 'Installing "
    "the library'), or set display.driver to virtual"
)


@dataclass(frozen=True)
class Check:
    """One finding: PASS, WARN, FAIL (or SKIP), what was seen, and the fix in one sentence."""

    level: Level
    name: str
    message: str
    fix: str = ""

    def line(self) -> str:
        """Return the finding as one human line."""
        text = f"{self.level:<4}  {self.name}: {self.message}"
        if self.fix and self.level in (WARN, FAIL):
            text += f" -> {self.fix}"
        return text

    def as_dict(self) -> dict[str, str]:
        """Return the finding as JSON-ready data."""
        return {"level": self.level, "name": self.name, "message": self.message, "fix": self.fix}


@dataclass
class Machine:
    """A read-only view of the host under ``root`` (a fake tree in tests)."""

    root: Path = Path("/")
    euid: Callable[[], int] = os.geteuid
    access: Callable[[Path, int], bool] = field(default=lambda p, mode: os.access(p, mode))

    def path(self, rel: str) -> Path:
        """Return ``rel`` (an absolute host path) under the root."""
        return self.root / rel.lstrip("/")

    def read(self, rel: str) -> str | None:
        """Return a file's text, or None when it cannot be read."""
        try:
            return self.path(rel).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None

    def model(self) -> str | None:
        """Return the board model from the device tree, or None."""
        raw = self.read("/proc/device-tree/model")
        return raw.replace("\x00", "").strip() if raw else None

    def is_pi(self) -> bool:
        """True when the device tree says Raspberry Pi."""
        return "raspberry pi" in (self.model() or "").lower()

    def is_pi4(self) -> bool:
        """True on a Raspberry Pi 4, 400 or Compute Module 4."""
        m = (self.model() or "").lower()
        return "raspberry pi 4" in m or "raspberry pi 400" in m or "compute module 4" in m

    def modules(self) -> set[str] | None:
        """Return the loaded kernel modules, or None when /proc/modules is unreadable."""
        raw = self.read("/proc/modules")
        if raw is None:
            return None
        return {line.split()[0] for line in raw.splitlines() if line.strip()}

    def is_root(self) -> bool:
        """True when running as root."""
        return self.euid() == 0

    def usable(self, rel: str) -> bool:
        """True when the node exists and is readable and writable by this process."""
        p = self.path(rel)
        return p.exists() and self.access(p, os.R_OK | os.W_OK)


def option_checks(cfg: DisplaySettings) -> list[Check]:
    """Check the display options against what the library accepts and the mapping wires."""
    out: list[Check] = []

    def bad(name: str, message: str, fix: str) -> None:
        out.append(Check(FAIL, f"display.{name}", message, fix))

    if cfg.rows % 2 or not 8 <= cfg.rows <= 64:
        bad("rows", f"{cfg.rows} rows is not an even number from 8 to 64",
            "set display.rows to the panel's pixel height (16, 32 or 64; 8 for tiny panels).")
    if cfg.cols < 16:
        bad("cols", f"{cfg.cols} columns is fewer than the library's minimum of 16",
            "set display.cols to the panel's pixel width (usually 32 or 64).")
    if cfg.hardware_mapping not in HARDWARE_MAPPINGS:
        bad("hardware_mapping", f"unknown mapping {cfg.hardware_mapping!r}",
            "use regular for direct wiring or adafruit-hat / adafruit-hat-pwm for Adafruit's "
            "HAT or bonnet.")
    else:
        most = MAX_PARALLEL[cfg.hardware_mapping]
        if cfg.parallel > most:
            bad("parallel", f"{cfg.hardware_mapping} wires {most} chain(s), not {cfg.parallel}",
                f"set display.parallel to at most {most} or use a mapping with more chains "
                "(regular: 3).")
    if not 1 <= cfg.chain_length <= 8:
        bad("chain_length", f"{cfg.chain_length} panels per chain is out of 1..8",
            "set display.chain_length to the number of panels daisy-chained on one connector.")
    if not 0 <= cfg.gpio_slowdown <= 5:
        bad("gpio_slowdown", f"{cfg.gpio_slowdown} is out of 0..5",
            "use 4 on a Pi 4 (2 on a Pi 3, 1 on older Pis).")
    if not 1 <= cfg.pwm_bits <= 11:
        bad("pwm_bits", f"{cfg.pwm_bits} is out of 1..11",
            "use 11 for the best colours, fewer for a higher refresh rate.")
    if not 50 <= cfg.pwm_lsb_nanoseconds <= 3000:
        bad("pwm_lsb_nanoseconds", f"{cfg.pwm_lsb_nanoseconds} ns is out of 50..3000",
            "use 130 (the library default); raise it against ghosting, lower it against flicker.")
    if not 0 <= cfg.pwm_dither_bits <= 2:
        bad("pwm_dither_bits", f"{cfg.pwm_dither_bits} is out of 0..2", "use 0, 1 or 2.")
    if not 1 <= cfg.brightness <= 100:
        bad("brightness", f"{cfg.brightness} is out of 1..100", "use a percentage from 1 to 100.")
    if cfg.scan_mode not in (0, 1):
        bad("scan_mode", f"{cfg.scan_mode} is not 0 or 1", "use 0 (progressive) or 1 (interlaced).")
    if not 0 <= cfg.row_address_type <= 5:
        bad("row_address_type", f"{cfg.row_address_type} is out of 0..5",
            "use 0 for most panels; 1 for 64x64 AB-addressed panels, see docs/hardware.md.")
    seq = cfg.led_rgb_sequence.upper()
    if len(seq) != 3 or set(seq) != {"R", "G", "B"}:
        bad("led_rgb_sequence", f"{cfg.led_rgb_sequence!r} is not an order of R, G and B",
            "use RGB, or the order the solid-colour test patterns reveal (e.g. RBG).")
    if cfg.limit_refresh_rate_hz < 0:
        bad("limit_refresh_rate_hz", "a negative refresh limit", "use 0 (no limit) or e.g. 120.")
    if cfg.panel_type and cfg.panel_type.upper() not in KNOWN_PANEL_TYPES:
        out.append(Check(WARN, "display.panel_type", f"{cfg.panel_type!r} is not a panel type "
                         "the library is known to support",
                         "leave it empty unless the panel stays dark; then try FM6126A or FM6127."))
    for part in filter(None, (p.strip() for p in cfg.pixel_mapper_config.split(";"))):
        mapper = part.split(":", 1)[0]
        if mapper not in KNOWN_PIXEL_MAPPERS:
            out.append(Check(WARN, "display.pixel_mapper_config",
                             f"unknown pixel mapper {mapper!r}",
                             f"use one of {', '.join(KNOWN_PIXEL_MAPPERS)} "
                             "(e.g. 'U-mapper;Rotate:90')."))
    return out


def device_checks(machine: Machine, cfg: DisplaySettings | None = None) -> list[Check]:
    """Check /dev/mem and /dev/gpiomem and what running as root or not means."""
    out: list[Check] = []
    root = machine.is_root()
    mem, gpiomem = machine.usable("/dev/mem"), machine.usable("/dev/gpiomem")
    mem_there = machine.path("/dev/mem").exists()
    gpiomem_there = machine.path("/dev/gpiomem").exists()
    if not mem_there and not gpiomem_there:
        out.append(Check(FAIL, "device nodes", "neither /dev/mem nor /dev/gpiomem exists",
                         "run on a Raspberry Pi with Raspberry Pi OS (or use display.driver "
                         "virtual on this machine)."))
        return out
    if mem:
        out.append(Check(PASS, "device nodes", "/dev/mem is accessible (full GPIO and PWM "
                         "access, hardware pulsing available)"))
    elif gpiomem:
        pulsing_off = cfg is not None and cfg.disable_hardware_pulsing
        out.append(Check(
            PASS if pulsing_off else WARN, "device nodes",
            "only /dev/gpiomem is accessible: GPIO works but hardware pulsing needs /dev/mem",
            "start the engine as root (the systemd unit does; the library drops privileges "
            "after init) or set display.disable_hardware_pulsing true and accept more flicker."))
    else:
        there = "/dev/mem" if mem_there else "/dev/gpiomem"
        out.append(Check(FAIL, "device nodes", f"{there} exists but this user cannot open it",
                         "start the engine as root (sudo, or the systemd unit), or add the "
                         "service user to the gpio group for /dev/gpiomem."))
    if root:
        if cfg is not None and not cfg.drop_privileges:
            then = "keeps root (drop_privileges is off)"
        else:
            then = ("drops to " + f"{cfg.drop_priv_user}:{cfg.drop_priv_group}" if cfg is not None
                    else "drops to the configured user")
        out.append(Check(PASS, "privileges", f"running as root: the library opens /dev/mem, "
                         f"then {then}"))
    else:
        out.append(Check(WARN, "privileges", "not running as root: no /dev/mem, so no hardware "
                         "pulsing and no real-time priority for the refresh thread",
                         "run the engine through its systemd unit, which starts it as root."))
    if root and cfg is not None and not cfg.drop_privileges:
        out.append(Check(WARN, "display.drop_privileges", "the engine keeps root after init",
                         "set display.drop_privileges true so a bug cannot act as root."))
    return out


def module_checks(machine: Machine) -> list[Check]:
    """Check that the on-board sound module, which the library refuses to share with, is off."""
    mods = machine.modules()
    if mods is None:
        return [Check(WARN, SOUND_MODULE, "/proc/modules is unreadable, cannot tell",
                      "run on Linux with /proc mounted.")]
    if SOUND_MODULE in mods:
        return [Check(FAIL, SOUND_MODULE, "the on-board sound module is loaded; the LED library "
                      "exits when it is, because sound and the panel share the PWM hardware",
                      "set dtparam=audio=off in /boot/firmware/config.txt (or blacklist "
                      "snd_bcm2835 in /etc/modprobe.d/) and reboot.")]
    return [Check(PASS, SOUND_MODULE, "not loaded")]


def preflight_checks(cfg: DisplaySettings, machine: Machine) -> list[Check]:
    """Every check that must pass before ``rgbmatrix`` is touched."""
    checks = option_checks(cfg)
    if not machine.is_pi():
        model = machine.model()
        checks.append(Check(FAIL, "board",
                            f"not a Raspberry Pi ({model or 'no device-tree model'})",
                            "use display.driver virtual or emulator on this machine."))
    checks += device_checks(machine, cfg)
    checks += module_checks(machine)
    return checks


#: DisplaySettings field -> (RGBMatrixOptions attribute, the library's default value).
OPTION_MAP: dict[str, tuple[str, Any]] = {
    "rows": ("rows", 32),
    "cols": ("cols", 32),
    "chain_length": ("chain_length", 1),
    "parallel": ("parallel", 1),
    "hardware_mapping": ("hardware_mapping", "regular"),
    "gpio_slowdown": ("gpio_slowdown", 1),
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


def option_values(cfg: DisplaySettings) -> dict[str, Any]:
    """Return the ``RGBMatrixOptions`` values for the settings, typed as the binding wants."""
    out: dict[str, Any] = {}
    for key, (attr, _default) in OPTION_MAP.items():
        value = getattr(cfg, key)
        if isinstance(value, bool):
            # Flags the binding declares as uint8_t (drop_privileges) must be ints.
            value = int(value) if key == "drop_privileges" else value
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
        if not hasattr(options, key):
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


class RGBMatrixDisplay:
    """A HUB75 panel driven by hzeller's library: one canvas, swapped on vsync."""

    name = "rgbmatrix"

    def __init__(
        self,
        cfg: DisplaySettings,
        *,
        machine: Machine | None = None,
        loader: Callable[[str], ModuleType] = importlib.import_module,
    ) -> None:
        self.cfg = cfg
        self.width = cfg.width
        self.height = cfg.height
        self.machine = machine or Machine()
        self.loader = loader
        self.brightness_pct = cfg.brightness
        self.frames_shown = 0
        self.canvases_created = 0
        self.applied: dict[str, Any] = {}
        self.skipped: list[str] = []
        self.binding_version: str | None = None
        self.last_error: str | None = None
        self.warnings: list[str] = []
        self._matrix: Any = None
        self._canvas: Any = None

    @property
    def started(self) -> bool:
        """True while the library holds the panel."""
        return self._matrix is not None

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
        self.applied, self.skipped = apply_options(options, self.cfg)
        if hasattr(options, "daemon"):
            options.daemon = 0  # systemd supervises us; the library must never fork
        try:
            matrix = mod.RGBMatrix(options=options)
            canvas = matrix.CreateFrameCanvas()
        except Exception as exc:
            self.last_error = f"rgbmatrix init failed: {exc}"
            raise DisplayError(f"rgbmatrix init failed: {exc}; fix: run `lightbox diagnose` "
                               "and check the display settings") from exc
        self.canvases_created += 1
        self._matrix, self._canvas = matrix, canvas
        width, height = int(matrix.width), int(matrix.height)
        if (width, height) != (self.width, self.height):
            self.warnings.append(f"library reports {width}x{height}, settings say "
                                 f"{self.width}x{self.height} (pixel_mapper_config?)")
            log.warning("rgbmatrix_geometry_differs", library=f"{width}x{height}",
                        settings=f"{self.width}x{self.height}")
        self.last_error = None
        self.set_brightness(self.brightness_pct)
        log.info("rgbmatrix_started", geometry=f"{self.width}x{self.height}",
                 mapping=self.cfg.hardware_mapping, gpio_slowdown=self.cfg.gpio_slowdown,
                 skipped_options=self.skipped, binding_version=self.binding_version,
                 euid=self.machine.euid())

    def show(self, frame: np.ndarray) -> None:
        """Draw the frame into the offscreen canvas and swap it in on the next vsync."""
        if self._canvas is None:
            raise DisplayError("rgbmatrix display is not started")
        try:
            self._canvas.SetImage(Image.fromarray(frame, "RGB"))
            self._canvas = self._matrix.SwapOnVSync(self._canvas)
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            raise DisplayError(f"rgbmatrix show failed: {exc}") from exc
        self.frames_shown += 1

    def set_brightness(self, pct: int) -> None:
        """Set the panel brightness (0-100) on the matrix and on the offscreen canvas."""
        pct = max(0, min(100, int(pct)))
        self.brightness_pct = pct
        if self._matrix is None:
            return
        try:
            self._matrix.brightness = pct
            # Brightness lives per framebuffer: set it on the canvas we draw into too,
            # else it comes back at the old level after the next swap.
            self._canvas.brightness = pct
        except Exception as exc:
            raise DisplayError(f"rgbmatrix brightness failed: {exc}") from exc

    def clear(self) -> None:
        """Darken the panel (both framebuffers)."""
        if self._canvas is None:
            return
        try:
            self._canvas.Clear()
            self._canvas = self._matrix.SwapOnVSync(self._canvas)
            self._canvas.Clear()
        except Exception as exc:
            raise DisplayError(f"rgbmatrix clear failed: {exc}") from exc

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
        log.info("rgbmatrix_stopped", frames_shown=self.frames_shown)

    def health(self) -> dict[str, Any]:
        """Return driver facts."""
        return {
            "driver": self.name,
            "started": self.started,
            "frames_shown": self.frames_shown,
            "canvases_created": self.canvases_created,
            "geometry": f"{self.width}x{self.height}",
            "hardware_mapping": self.cfg.hardware_mapping,
            "gpio_slowdown": self.cfg.gpio_slowdown,
            "brightness_pct": self.brightness_pct,
            "binding_version": self.binding_version,
            "skipped_options": self.skipped,
            "warnings": self.warnings,
            "last_error": self.last_error,
        }
