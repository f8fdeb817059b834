"""A fake of hzeller's ``rgbmatrix`` binding for tests: records calls, enforces the rules.

Modelled on bindings/python/rgbmatrix/core.pyx of hzeller/rpi-rgb-led-matrix:

- ``RGBMatrixOptions`` is a Cython class: unknown attributes raise
  AttributeError; ``uint8_t`` fields take ints 0..255 (TypeError otherwise,
  OverflowError out of range), ``uint32_t`` fields ints 0..2**32-1; string
  fields take str/bytes/None and read back as bytes.
- ``RGBMatrix(options=...)`` validates like ``RGBMatrix::Options::Validate``
  (rows even 8..64, cols >= 16, parallel 1..3, brightness 1..100, pwm_bits 1..11,
  ...) and raises where the C++ would refuse.
- ``SetImage`` accepts only a PIL image in mode ``RGB``.
- ``CreateFrameCanvas`` more than once per matrix emits ``CanvasLeakWarning``
  (the real library warns after 500 and leaks memory until then).
- ``SwapOnVSync(canvas)`` shows ``canvas`` and returns the previously shown one
  (the matrix's own framebuffer on the first call).
- ``brightness`` takes an int 0..100.

Test controls: ``FEATURES`` switches options of newer bindings on or off,
``MATRICES`` holds weak references to every matrix made, ``RELEASED`` counts
matrices freed.
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

__version__ = "0.0.1-fake"

#: Options only newer bindings have; tests switch them off to play an old binding.
FEATURES: dict[str, bool] = {
    "panel_type": True,
    "pwm_dither_bits": True,
    "limit_refresh_rate_hz": True,
    "drop_priv_user": True,
    "drop_priv_group": True,
}
MATRICES: list[weakref.ref[RGBMatrix]] = []
RELEASED: list[str] = []
MUXERS = 20


class CanvasLeakWarning(RuntimeWarning):
    """CreateFrameCanvas was called again on the same matrix."""


_U8, _U32, _STR, _BOOL, _INT = "u8", "u32", "str", "bool", "int"
_FIELDS: dict[str, tuple[str, Any]] = {
    # RGBMatrix::Options
    "hardware_mapping": (_STR, b"regular"),
    "rows": (_U8, 32),
    "cols": (_U32, 32),
    "chain_length": (_U8, 1),
    "parallel": (_U8, 1),
    "pwm_bits": (_U8, 11),
    "pwm_lsb_nanoseconds": (_U32, 130),
    "brightness": (_U8, 100),
    "scan_mode": (_U8, 0),
    "multiplexing": (_U8, 0),
    "row_address_type": (_U8, 0),
    "disable_hardware_pulsing": (_BOOL, False),
    "show_refresh_rate": (_BOOL, False),
    "inverse_colors": (_BOOL, False),
    "led_rgb_sequence": (_STR, b"RGB"),
    "pixel_mapper_config": (_STR, None),
    "panel_type": (_STR, None),
    "pwm_dither_bits": (_U8, 0),
    "limit_refresh_rate_hz": (_INT, 0),
    # RuntimeOptions
    "gpio_slowdown": (_U8, 1),
    "daemon": (_U8, 0),
    "drop_privileges": (_U8, 0),
    "drop_priv_user": (_STR, None),
    "drop_priv_group": (_STR, None),
}


def _convert(name: str, kind: str, value: Any) -> Any:
    if kind in (_U8, _U32, _INT):
        # Cython accepts Python ints (bool is an int) and refuses floats and strings.
        if not isinstance(value, int):
            raise TypeError(f"an integer is required for {name}, got {type(value).__name__}")
        top = {_U8: 255, _U32: 2**32 - 1, _INT: 2**31 - 1}[kind]
        bottom = -(2**31) if kind == _INT else 0
        if not bottom <= value <= top:
            raise OverflowError(f"value {value} out of range for {name}")
        return int(value)
    if kind == _STR:
        if value is None or isinstance(value, bytes):
            return value
        if isinstance(value, bytearray):
            return bytes(value)
        if isinstance(value, str):
            return value.encode("utf-8")
        raise TypeError(f"{name} must be [str, bytes, bytearray, None], not {type(value).__name__}")
    return bool(value)


class RGBMatrixOptions:
    """Options with the binding's attribute names and C types."""

    __slots__ = ("_values", "set_calls")

    def __init__(self) -> None:
        object.__setattr__(self, "_values", {k: d for k, (_, d) in _FIELDS.items()})
        object.__setattr__(self, "set_calls", [])

    def _supported(self, name: str) -> bool:
        return name in _FIELDS and FEATURES.get(name, True)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or not self._supported(name):
            raise AttributeError(f"'RGBMatrixOptions' object has no attribute {name!r}")
        return self._values[name]

    def __setattr__(self, name: str, value: Any) -> None:
        if not self._supported(name):
            raise AttributeError(f"'RGBMatrixOptions' object has no attribute {name!r}")
        self._values[name] = _convert(name, _FIELDS[name][0], value)
        self.set_calls.append(name)


def _bad_sequence(o: dict[str, Any]) -> bool:
    seq = (o["led_rgb_sequence"] or b"").upper()
    return len(seq) != 3 or set(seq) != set(b"RGB")


_MAPPINGS = ("regular", "adafruit-hat", "adafruit-hat-pwm", "regular-pi1", "classic",
             "classic-pi1", "compute-module")

#: What the C++ library refuses, option by option, in the order it reports them.
_INVALID: tuple[tuple[str, Callable[[dict[str, Any]], bool]], ...] = (
    ("rows", lambda o: o["rows"] < 8 or o["rows"] > 64 or o["rows"] % 2 != 0),
    ("cols", lambda o: o["cols"] < 16),
    ("chain_length", lambda o: o["chain_length"] < 1),
    ("parallel", lambda o: not 1 <= o["parallel"] <= 3),
    ("brightness", lambda o: not 1 <= o["brightness"] <= 100),
    ("pwm_bits", lambda o: not 1 <= o["pwm_bits"] <= 11),
    ("scan_mode", lambda o: o["scan_mode"] > 1),
    ("row_address_type", lambda o: o["row_address_type"] > 5),
    ("multiplexing", lambda o: o["multiplexing"] > MUXERS),
    ("pwm_lsb_nanoseconds", lambda o: not 50 <= o["pwm_lsb_nanoseconds"] <= 3000),
    ("pwm_dither_bits", lambda o: o["pwm_dither_bits"] > 2),
    ("led_rgb_sequence", _bad_sequence),
    ("hardware_mapping", lambda o: (o["hardware_mapping"] or b"").decode() not in _MAPPINGS),
)


def _validate(o: dict[str, Any]) -> None:
    errors = [name for name, invalid in _INVALID if invalid(o)]
    if errors:
        # The C++ prints and returns NULL; the binding raises.
        raise Exception("RGBMatrix creation failed: invalid " + ", ".join(errors))


def _check_brightness(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"brightness must be an int, got {type(value).__name__}")
    if not 0 <= value <= 100:
        raise ValueError(f"brightness {value} is out of 0..100")
    return value


class FrameCanvas:
    """An offscreen framebuffer owned by a matrix."""

    def __init__(self, owner: RGBMatrix, internal: bool = False) -> None:
        self._owner = owner  # as in the binding: a canvas keeps its matrix alive
        self.internal = internal
        self.pixels = np.zeros((owner.height, owner.width, 3), np.uint8)
        self._brightness = owner._brightness
        self.set_image_calls = 0
        self.cleared = 0

    @property
    def width(self) -> int:
        return self._owner.width

    @property
    def height(self) -> int:
        return self._owner.height

    @property
    def brightness(self) -> int:
        return self._brightness

    @brightness.setter
    def brightness(self, value: int) -> None:
        self._brightness = _check_brightness(value)

    def SetImage(self, image: Any, offset_x: int = 0, offset_y: int = 0,
                 unsafe: bool = True) -> None:
        if getattr(image, "mode", None) != "RGB":
            raise Exception(
                "Currently, only RGB mode is supported for SetImage(). Please create images "
                "with mode 'RGB' or convert first with image = image.convert('RGB')."
            )
        arr = np.asarray(image)
        h = min(arr.shape[0], self.height - offset_y)
        w = min(arr.shape[1], self.width - offset_x)
        if h > 0 and w > 0:
            self.pixels[offset_y:offset_y + h, offset_x:offset_x + w] = arr[:h, :w]
        self.set_image_calls += 1
        self._owner.images.append(image)

    def SetPixel(self, x: int, y: int, r: int, g: int, b: int) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            self.pixels[y, x] = (_convert("r", _U8, r), _convert("g", _U8, g),
                                 _convert("b", _U8, b))

    def Fill(self, r: int, g: int, b: int) -> None:
        self.pixels[...] = (r, g, b)

    def Clear(self) -> None:
        self.pixels[...] = 0
        self.cleared += 1


class RGBMatrix:
    """The matrix: validates options, hands out canvases, swaps them on vsync."""

    def __init__(self, rows: int | None = None, chains: int | None = None,
                 parallel: int | None = None, options: RGBMatrixOptions | None = None) -> None:
        if options is None:
            options = RGBMatrixOptions()
        if rows is not None:
            options.rows = rows
        if chains is not None:
            options.chain_length = chains
        if parallel is not None:
            options.parallel = parallel
        values = dict(options._values)
        _validate(values)
        self.options = values
        self.width = values["cols"] * values["chain_length"]
        self.height = values["rows"] * values["parallel"]
        self._brightness = values["brightness"]
        self.created_canvases: list[FrameCanvas] = []
        self.images: list[Any] = []
        self.swaps = 0
        self.cleared = 0
        self.brightness_calls: list[int] = []
        self.displayed = FrameCanvas(self, internal=True)
        MATRICES.append(weakref.ref(self))

    def __del__(self) -> None:
        RELEASED.append(f"{self.width}x{self.height}")

    def CreateFrameCanvas(self) -> FrameCanvas:
        if self.created_canvases:
            warnings.warn(
                f"CreateFrameCanvas called {len(self.created_canvases) + 1} times on one "
                "matrix: create the offscreen canvas once and reuse what SwapOnVSync returns",
                CanvasLeakWarning, stacklevel=2,
            )
        canvas = FrameCanvas(self)
        self.created_canvases.append(canvas)
        return canvas

    def SwapOnVSync(self, canvas: FrameCanvas | None,
                    framerate_fraction: int = 1) -> FrameCanvas:
        if canvas is not None and not isinstance(canvas, FrameCanvas):
            raise TypeError("Argument 'nextFrame' has incorrect type")
        if canvas is not None and canvas._owner is not self:
            raise ValueError("canvas belongs to another matrix")
        previous = self.displayed
        if canvas is not None:
            self.displayed = canvas
        self.swaps += 1
        return previous

    def Clear(self) -> None:
        self.displayed.Clear()
        self.cleared += 1

    def Fill(self, r: int, g: int, b: int) -> None:
        self.displayed.Fill(r, g, b)

    def SetPixel(self, x: int, y: int, r: int, g: int, b: int) -> None:
        self.displayed.SetPixel(x, y, r, g, b)

    @property
    def brightness(self) -> int:
        return self._brightness

    @brightness.setter
    def brightness(self, value: int) -> None:
        self._brightness = _check_brightness(value)
        self.displayed._brightness = self._brightness
        self.brightness_calls.append(value)

    def shown(self) -> np.ndarray:
        """Test helper: what the panel shows now."""
        return self.displayed.pixels.copy()


def live_matrices() -> list[RGBMatrix]:
    """Test helper: the matrices not yet freed."""
    return [m for m in (r() for r in MATRICES) if m is not None]


def reset() -> None:
    """Test helper: forget everything recorded and restore all features."""
    MATRICES.clear()
    RELEASED.clear()
    for k in FEATURES:
        FEATURES[k] = True


__all__ = ["FrameCanvas", "RGBMatrix", "RGBMatrixOptions"]
