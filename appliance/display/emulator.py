"""The emulator driver: RGBMatrixEmulator (optional extra ``emulator``) in a browser or window.

The same canvas code as the hardware driver (``appliance.display.canvas``:
one offscreen canvas, ``SetImage`` of a PIL RGB image, ``SwapOnVSync``,
brightness on matrix and canvas, both framebuffers blanked), so a person
without a panel sees what the panel would show. The package is
imported lazily in ``start``. Knows nothing of animations, MQTT or the loop.

RGBMatrixEmulator reads ``emulator_config.json`` from the current directory,
already at import time, and writes a default one there when missing. The
driver therefore imports and builds it inside ``config_dir`` (default: the
current directory, or ``$LIGHTBOX_EMULATOR_DIR``) and writes the file itself
first when it is missing, choosing the display adapter (``browser`` by
default, on http://localhost:8888; ``$LIGHTBOX_EMULATOR_ADAPTER`` or
``adapter=`` for ``pygame``, ``terminal``, ``raw``...).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import structlog

from appliance.display import DisplayError
from appliance.display.canvas import CanvasDisplay
from appliance.settings import DisplaySettings

log = structlog.get_logger("display.emulator")

CONFIG_NAME = "emulator_config.json"
DIR_ENV = "LIGHTBOX_EMULATOR_DIR"
ADAPTER_ENV = "LIGHTBOX_EMULATOR_ADAPTER"
DEFAULT_ADAPTER = "browser"
INSTALL_HINT = ("install it with `pip install 'lightbox[emulator]'` (or `pip install "
                "RGBMatrixEmulator`), or set display.driver to virtual")
#: The emulator's defaults (its DEFAULT_CONFIG), so the file we write is complete.
_DEFAULT_CONFIG: dict[str, Any] = {
    "pixel_outline": 0,
    "pixel_size": 16,
    "pixel_style": "square",
    "pixel_glow": 6,
    "display_adapter": DEFAULT_ADAPTER,
    "allow_adapter_fallback": False,
    "icon_path": None,
    "emulator_title": "LightBox",
    "browser": {
        "port": 8888,
        "target_fps": 30,
        "fps_display": False,
        "quality": 70,
        "image_border": True,
        "debug_text": False,
        "image_format": "JPEG",
        "open_immediately": False,
    },
    "log_level": "warning",
}
#: chdir is process-wide: one emulator start at a time.
_CWD_LOCK = threading.Lock()


@contextlib.contextmanager
def _inside(directory: Path) -> Iterator[None]:
    with _CWD_LOCK:
        before = Path.cwd()
        os.chdir(directory)
        try:
            yield
        finally:
            os.chdir(before)


class EmulatorDisplay(CanvasDisplay):
    """A panel drawn by RGBMatrixEmulator."""

    name = "emulator"

    def __init__(
        self,
        cfg: DisplaySettings,
        *,
        config_dir: Path | None = None,
        adapter: str | None = None,
        loader: Callable[[str], ModuleType] = importlib.import_module,
    ) -> None:
        super().__init__(cfg)
        env_dir = os.environ.get(DIR_ENV)
        self.config_dir = config_dir or (Path(env_dir) if env_dir else None)
        self.adapter = adapter or os.environ.get(ADAPTER_ENV) or None
        self.loader = loader
        self.version: str | None = None
        self.adapter_name: str | None = None

    def _write_config(self, directory: Path) -> None:
        path = directory / CONFIG_NAME
        if path.exists():
            return
        data = dict(_DEFAULT_CONFIG, display_adapter=self.adapter or DEFAULT_ADAPTER)
        path.write_text(json.dumps(data, indent=4) + "\n", encoding="utf-8")
        log.info("emulator_config_written", path=str(path), adapter=data["display_adapter"])

    def start(self) -> None:
        """Import RGBMatrixEmulator, build the matrix and its one offscreen canvas."""
        if self._matrix is not None:
            return
        directory = (self.config_dir or Path.cwd()).resolve()
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._write_config(directory)
        except OSError as exc:
            raise DisplayError(f"cannot write {directory / CONFIG_NAME}: {exc}; fix: set "
                               f"${DIR_ENV} to a writable directory") from exc
        try:
            with _inside(directory):
                try:
                    mod = self.loader("RGBMatrixEmulator")
                except ImportError as exc:
                    raise DisplayError(
                        f"RGBMatrixEmulator is not installed ({exc}); fix: {INSTALL_HINT}"
                    ) from exc
                options = mod.RGBMatrixOptions()
                self._apply(options)
                if self.adapter:
                    loader_mod = self.loader("RGBMatrixEmulator.internal.adapter_loader")
                    options.display_adapter = loader_mod.AdapterLoader(self.adapter).load(
                        fallback=False)
                matrix = mod.RGBMatrix(options=options)
                canvas = matrix.CreateFrameCanvas()
        except DisplayError:
            raise
        except (Exception, SystemExit) as exc:  # the emulator sys.exit()s when an adapter fails
            self.last_error = f"{type(exc).__name__}: {exc}"
            raise DisplayError(f"RGBMatrixEmulator failed to start ({self.last_error}); fix: "
                               f"check {directory / CONFIG_NAME} (display_adapter) or set "
                               "display.driver to virtual") from None
        self.version = str(getattr(mod, "__version__", "")) or None
        self.adapter_name = type(getattr(canvas, "display_adapter", None)).__name__
        self._adopt(matrix, canvas)
        log.info("emulator_started", geometry=f"{self.width}x{self.height}",
                 adapter=self.adapter_name, config=str(directory / CONFIG_NAME))

    def _apply(self, options: Any) -> None:
        for key in ("rows", "cols", "chain_length", "parallel", "pwm_bits",
                    "pwm_lsb_nanoseconds", "row_address_type", "multiplexing",
                    "pixel_mapper_config", "disable_hardware_pulsing", "brightness"):
            setattr(options, key, getattr(self.cfg, key))
        options.show_refresh_rate = int(self.cfg.show_refresh_rate)
        options.gpio_slowdown = self.cfg.gpio_slowdown

    def _failed(self, action: str, exc: BaseException) -> DisplayError:
        return DisplayError(f"emulator {action} failed: {type(exc).__name__}: {exc}")

    def health(self) -> dict[str, Any]:
        """Return driver facts."""
        return {
            **self._health(),
            "adapter": self.adapter_name,
            "emulator_version": self.version,
            "brightness_pct": self.brightness_pct,
            "last_error": self.last_error,
        }

    def canvas_pixels(self) -> np.ndarray | None:
        """Return what the emulator last drew (only the ``raw`` adapter keeps it)."""
        adapter = getattr(self._canvas, "display_adapter", None)
        frames = getattr(adapter, "frames", None)
        if not frames:
            return None
        return np.asarray(adapter._last_frame()).copy()  # type: ignore[union-attr]
