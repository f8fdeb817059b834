"""A fake of hzeller's ``rgbmatrix`` binding for tests: records calls, enforces the rules.

Modelled on the vendored ../shared/vendor/rpi-rgb-led-matrix at its pinned commit
(bindings/python/rgbmatrix/core.pyx, cppinc.pxd, lib/led-matrix.cc,
lib/options-initialize.cc, lib/framebuffer.cc); tests/unit/test_binding_api.py parses
that Cython source and diffs it against this module, so the two cannot drift:

- ``RGBMatrixOptions`` is a Cython class whose options are class-level properties
  (ask ``hasattr(type(o), name)``); unknown attributes raise AttributeError.
  ``uint8_t`` setters take ints 0..255, ``uint32_t`` ones 0..2**32-1 (a float is
  truncated, ``int(x)``, as the real binding does; TypeError for strings and None,
  OverflowError out of range); the C fields are ``int``, so a
  ``uint32_t`` above 2**31-1 wraps negative. String setters call ``value.encode``:
  only ``str`` (bytes and None raise AttributeError); they read back as bytes, and
  reading one the library left NULL (``pixel_mapper_config``, ``panel_type`` until set)
  crashes the real binding: here ``LibraryCrash``. Defaults are the C++ ones
  (drop_privileges 1 to ``daemon:daemon``, rp1_rio 0, gpio_slowdown 1 off a Pi 4).
- ``RGBMatrix(rows=0, chains=0, parallel=0, options=None)``: where the C++
  ``CreateFromOptions`` returns NULL (``Options::Validate``, gpio_slowdown outside
  0..10 for a ``uint8_t``, rp1_rio not 0/1, or no GPIO to map: ``GPIO_OK`` False, as
  without /dev/mem and /dev/gpiomem) the binding raises NOTHING and prints the
  library's reason on stderr: the object holds a NULL matrix. ``SetImage`` and
  ``SetPixelsPillow`` on it raise ``Exception("Canvas was destroyed or not
  initialized, ...")`` (they go through ``_getCanvas``); every other call, and freeing
  it (``__dealloc__`` calls ``Clear``), segfaults: ``LibraryCrash`` on a call, and a
  line in ``CRASHES`` when it is freed (``__del__`` cannot raise). An unknown hardware
  mapping or more parallel chains than the mapping wires ``abort()``: ``LibraryCrash``
  at once (a BaseException, so ``except Exception`` cannot hide it).
  Pixel mappers shape ``width``/``height`` as the library's do; a mapper string the
  library cannot parse is ignored, as it is there.
- ``SetImage`` accepts only a PIL image in mode ``RGB``; ``SwapOnVSync(None)`` crashes.
- ``CreateFrameCanvas`` more than once per matrix emits ``CanvasLeakWarning``
  (the real library warns after 500 and leaks memory until then).
- ``brightness`` setters take a ``uint8_t``; a canvas keeps 1..100 (0 becomes 1,
  more than 100 becomes 100) while the matrix reads back what was set.

Test controls: ``FEATURES`` switches options of newer bindings off (an old binding),
``GPIO_OK`` False makes the library find no GPIO, ``MATRICES`` holds weak references
to every matrix made, ``RELEASED`` counts freed ones, ``CRASHES`` the NULL ones freed.
"""

from __future__ import annotations

import sys
import warnings
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from appliance.settings.display_geometry import mapped_size

__version__ = "0.0.1-fake"

#: Options only newer bindings have; tests switch them off to play an old binding.
FEATURES: dict[str, bool] = {
    "panel_type": True,
    "pwm_dither_bits": True,
    "limit_refresh_rate_hz": True,
    "drop_priv_user": True,
    "drop_priv_group": True,
    "rp1_rio": True,
}
MATRICES: list[weakref.ref[RGBMatrix]] = []
RELEASED: list[str] = []
CRASHES: list[str] = []
#: False: the library can map no GPIO (no /dev/mem, no /dev/gpiomem): CreateFromOptions
#: prints "Must run as root to be able to access /dev/mem" and returns NULL.
GPIO_OK = True
NOT_INITIALIZED = "Canvas was destroyed or not initialized, you cannot use this object anymore"
#: lib/multiplex-mappers.cc registers 22 multiplexers at the pinned commit.
MUXERS = 22
#: Test-only names on each class (the API diff ignores them).
TEST_HELPERS = {
    "RGBMatrixOptions": {"set_calls", "values"},
    "RGBMatrix": {"options", "created_canvases", "images", "swaps", "cleared",
                  "brightness_calls", "displayed", "shown"},
    "FrameCanvas": {"internal", "pixels", "set_image_calls", "cleared"},
}


class LibraryCrash(BaseException):
    """The real library would segfault, ``abort()`` or ``exit(1)`` here."""


class CanvasLeakWarning(RuntimeWarning):
    """CreateFrameCanvas was called again on the same matrix."""


U8, U32, STR, BOOL, INT = "uint8_t", "uint32_t", "str", "bool", "int"
_NULL = object()
#: option -> (setter kind as core.pyx declares it, the C++ default).
FIELDS: dict[str, tuple[str, Any]] = {
    # RGBMatrix::Options
    "hardware_mapping": (STR, b"regular"),
    "rows": (U8, 32),
    "cols": (U32, 32),
    "chain_length": (U8, 1),
    "parallel": (U8, 1),
    "pwm_bits": (U8, 11),
    "pwm_lsb_nanoseconds": (U32, 130),
    "brightness": (U8, 100),
    "scan_mode": (U8, 0),
    "multiplexing": (U8, 0),
    "row_address_type": (U8, 0),
    "disable_hardware_pulsing": (BOOL, False),
    "show_refresh_rate": (BOOL, False),
    "inverse_colors": (BOOL, False),
    "led_rgb_sequence": (STR, b"RGB"),
    "pixel_mapper_config": (STR, _NULL),
    "panel_type": (STR, _NULL),
    "pwm_dither_bits": (U8, 0),
    "limit_refresh_rate_hz": (INT, 0),
    # RuntimeOptions
    "gpio_slowdown": (U8, 1),
    "rp1_rio": (U8, 0),
    "daemon": (U8, 0),
    "drop_privileges": (U8, 1),
    "drop_priv_user": (STR, b"daemon"),
    "drop_priv_group": (STR, b"daemon"),
}
_RANGES = {U8: (0, 255), U32: (0, 2**32 - 1), INT: (-(2**31), 2**31 - 1)}


def _to_c(name: str, kind: str, value: Any) -> Any:
    """Convert as Cython does for the setter's declared type, then store as the C field."""
    if kind in _RANGES:
        if isinstance(value, float):
            value = int(value)  # Cython's C-integer conversion goes through __int__: 3.7 -> 3
        if not isinstance(value, int):  # ints (bool is one) and floats; str, None refused
            raise TypeError(f"an integer is required for {name}, got {type(value).__name__}")
        low, high = _RANGES[kind]
        if not low <= value <= high:
            raise OverflowError(f"value {value} out of range for {kind} {name}")
        return value - 2**32 if kind == U32 and value > 2**31 - 1 else int(value)
    if kind == STR:
        return value.encode("utf-8")  # AttributeError for bytes and None, as in core.pyx
    return bool(value)


def _option(name: str, kind: str) -> property:
    def get(self: RGBMatrixOptions) -> Any:
        value = self.values[name]
        if value is _NULL:
            raise LibraryCrash(f"reading {name} before it was set: bytes from a NULL char*")
        return value

    def put(self: RGBMatrixOptions, value: Any) -> None:
        self.values[name] = _to_c(name, kind, value)
        self.set_calls.append(name)

    return property(get, put)


class _OptionsBase:
    __slots__ = ("set_calls", "values")

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in ("set_calls", "values") and not isinstance(
                getattr(type(self), name, None), property):
            raise AttributeError(f"'RGBMatrixOptions' object has no attribute {name!r}")
        object.__setattr__(self, name, value)


_CLASSES: dict[frozenset[str], type] = {}


def _options_class() -> type:
    names = frozenset(k for k in FIELDS if FEATURES.get(k, True))
    if names not in _CLASSES:
        props = {k: _option(k, FIELDS[k][0]) for k in FIELDS if k in names}
        _CLASSES[names] = type("RGBMatrixOptions", (RGBMatrixOptions,),
                               {"__slots__": (), **props})
    return _CLASSES[names]


class RGBMatrixOptions(_OptionsBase):
    """Options with the binding's attribute names, C types and defaults."""

    __slots__ = ()

    def __new__(cls) -> RGBMatrixOptions:
        obj: RGBMatrixOptions = object.__new__(_options_class())  # type: ignore[assignment]
        object.__setattr__(obj, "values", {k: d for k, (_, d) in FIELDS.items()})
        object.__setattr__(obj, "set_calls", [])
        return obj


def _bad_sequence(o: dict[str, Any]) -> bool:
    seq = (o["led_rgb_sequence"] or b"").upper()
    return len(seq) != 3 or set(seq) != set(b"RGB")


#: lib/hardware-mapping.c without ENABLE_WIDE_GPIO_COMPUTE_MODULE (the Python build):
#: mapping -> parallel chains it wires.
MAPPINGS = {"regular": 3, "adafruit-hat": 1, "adafruit-hat-pwm": 1, "regular-pi1": 1,
            "classic": 3, "classic-pi1": 1}

#: Where CreateFromOptions returns NULL, option by option, in the order it checks them.
_NULL_RETURN: tuple[tuple[str, Callable[[dict[str, Any]], bool]], ...] = (
    ("rows", lambda o: o["rows"] < 8 or o["rows"] > 64 or o["rows"] % 2 != 0),
    ("cols", lambda o: o["cols"] < 16),
    ("chain_length", lambda o: o["chain_length"] < 1),
    ("multiplexing", lambda o: o["multiplexing"] > MUXERS),
    ("row_address_type", lambda o: o["row_address_type"] > 5),
    ("parallel", lambda o: not 1 <= o["parallel"] <= 3),
    ("brightness", lambda o: not 1 <= o["brightness"] <= 100),
    ("pwm_bits", lambda o: not 1 <= o["pwm_bits"] <= 11),
    ("scan_mode", lambda o: o["scan_mode"] > 1),
    ("pwm_lsb_nanoseconds", lambda o: not 50 <= o["pwm_lsb_nanoseconds"] <= 3000),
    ("pwm_dither_bits", lambda o: o["pwm_dither_bits"] > 2),
    ("led_rgb_sequence", _bad_sequence),
    ("gpio_slowdown", lambda o: o["gpio_slowdown"] > 10),
    ("rp1_rio", lambda o: o["rp1_rio"] not in (0, 1)),
)


def _create(o: dict[str, Any]) -> str | None:
    """Return why the C++ would hand the binding NULL (None: a matrix); crash on abort()."""
    errors = [name for name, invalid in _NULL_RETURN if invalid(o)]
    if errors:
        return "invalid " + ", ".join(errors)
    if not GPIO_OK:
        return "Must run as root to be able to access /dev/mem"
    mapping = (o["hardware_mapping"] or b"regular").decode().lower()
    if mapping not in MAPPINGS:
        raise LibraryCrash(f"abort(): there is no hardware mapping named {mapping!r}")
    if o["parallel"] > MAPPINGS[mapping]:
        raise LibraryCrash(f"abort(): the {mapping} GPIO mapping only supports "
                           f"{MAPPINGS[mapping]} parallel chain(s)")
    return None


def _u8(name: str, value: Any) -> int:
    converted: int = _to_c(name, U8, value)
    return converted


class FrameCanvas:
    """An offscreen framebuffer owned by a matrix."""

    def __init__(self, owner: RGBMatrix | None = None, internal: bool = False) -> None:
        if owner is None:
            raise LibraryCrash("a FrameCanvas made in Python has no C canvas")
        self._owner = owner  # as in the binding: a canvas keeps its matrix alive
        self.internal = internal
        self.pixels = np.zeros((owner.height, owner.width, 3), np.uint8)
        self._brightness = owner._canvas_brightness
        self._pwm_bits = owner._pwm_bits
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
    def brightness(self, val: int) -> None:
        b = _u8("brightness", val)
        self._brightness = 1 if b == 0 else min(b, 100)  # Framebuffer::SetBrightness

    @property
    def pwmBits(self) -> int:
        return self._pwm_bits

    @pwmBits.setter
    def pwmBits(self, pwmBits: int) -> None:
        bits = _u8("pwmBits", pwmBits)
        if 1 <= bits <= 11:  # SetPWMBits returns false otherwise, and the binding ignores it
            self._pwm_bits = bits

    def SetImage(self, image: Any, offset_x: int = 0, offset_y: int = 0,
                 unsafe: bool = True) -> None:
        if image.mode != "RGB":
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

    def SetPixelsPillow(self, xstart: int, ystart: int, width: int,
                        height: int, image_capsule: Any) -> None:
        raise LibraryCrash("SetPixelsPillow reads a PIL capsule; the fake has none")

    def SetPixel(self, x: int, y: int, red: int, green: int, blue: int) -> None:
        rgb = (_u8("red", red), _u8("green", green), _u8("blue", blue))
        if 0 <= x < self.width and 0 <= y < self.height:
            self.pixels[y, x] = rgb

    def Fill(self, red: int, green: int, blue: int) -> None:
        self.pixels[...] = (_u8("red", red), _u8("green", green), _u8("blue", blue))

    def Clear(self) -> None:
        self.pixels[...] = 0
        self.cleared += 1


class RGBMatrix:
    """The matrix: validates options, hands out canvases, swaps them on vsync."""

    def __init__(self, rows: int = 0, chains: int = 0, parallel: int = 0,
                 options: RGBMatrixOptions | None = None) -> None:
        for name, v in (("rows", rows), ("chains", chains), ("parallel", parallel)):
            _to_c(name, INT, v)  # ``int`` arguments: None is a TypeError
        if options is None:
            options = RGBMatrixOptions()
        if rows > 0:
            options.rows = rows
        if chains > 0:
            options.chain_length = chains
        if parallel > 0:
            options.parallel = parallel
        values = dict(options.values)
        self._null = _create(values)
        self.options = values
        if self._null is not None:
            print(self._null, file=sys.stderr)  # the library's fprintf; the binding says nothing
            MATRICES.append(weakref.ref(self))
            return
        mapper = values["pixel_mapper_config"]
        self._size = mapped_size(values["cols"], values["rows"], values["chain_length"],
                                 values["parallel"],
                                 "" if mapper is _NULL else mapper.decode())
        self._brightness = values["brightness"]
        self._canvas_brightness = values["brightness"]
        self._pwm_bits = values["pwm_bits"]
        self._luminance = True
        self.created_canvases: list[FrameCanvas] = []
        self.images: list[Any] = []
        self.swaps = 0
        self.cleared = 0
        self.brightness_calls: list[int] = []
        self.displayed = FrameCanvas(self, internal=True)
        MATRICES.append(weakref.ref(self))

    def __del__(self) -> None:
        if getattr(self, "_null", None) is not None:
            CRASHES.append(f"freed a NULL matrix ({self._null}): __dealloc__ segfaults")
        elif hasattr(self, "_size"):  # not when the constructor crashed
            RELEASED.append(f"{self.width}x{self.height}")

    def __getattribute__(self, name: str) -> Any:
        if name in _NULL_CALLS and object.__getattribute__(self, "_null") is not None:
            if name in _RAISE_ON_NULL:
                raise Exception(NOT_INITIALIZED)
            raise LibraryCrash(f"RGBMatrix.{name} on the NULL matrix CreateFromOptions "
                               "returned: segfault")
        return object.__getattribute__(self, name)

    @property
    def width(self) -> int:
        return self._size[0]

    @property
    def height(self) -> int:
        return self._size[1]

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

    def SwapOnVSync(self, newFrame: FrameCanvas,
                    framerate_fraction: int = 1) -> FrameCanvas:
        if newFrame is None:
            raise LibraryCrash("SwapOnVSync(None) dereferences None's C canvas")
        if not isinstance(newFrame, FrameCanvas):
            raise TypeError("Argument 'newFrame' has incorrect type")
        _u8("framerate_fraction", framerate_fraction)
        if newFrame._owner is not self:
            raise LibraryCrash("a canvas of another matrix")
        previous = self.displayed
        self.displayed = newFrame
        self.swaps += 1
        return previous

    def SetImage(self, image: Any, offset_x: int = 0, offset_y: int = 0,
                 unsafe: bool = True) -> None:
        self.displayed.SetImage(image, offset_x, offset_y, unsafe)

    def SetPixelsPillow(self, xstart: int, ystart: int, width: int,
                        height: int, image_capsule: Any) -> None:
        self.displayed.SetPixelsPillow(xstart, ystart, width, height, image_capsule)

    def Clear(self) -> None:
        self.displayed.Clear()
        self.cleared += 1

    def Fill(self, red: int, green: int, blue: int) -> None:
        self.displayed.Fill(red, green, blue)

    def SetPixel(self, x: int, y: int, red: int, green: int, blue: int) -> None:
        self.displayed.SetPixel(x, y, red, green, blue)

    @property
    def brightness(self) -> int:
        return self._brightness  # Impl::brightness() reads back what was set

    @brightness.setter
    def brightness(self, brightness: int) -> None:
        self._brightness = _u8("brightness", brightness)
        clamped = 1 if self._brightness == 0 else min(self._brightness, 100)
        self._canvas_brightness = clamped
        for c in (self.displayed, *self.created_canvases):
            c._brightness = clamped
        self.brightness_calls.append(brightness)

    @property
    def pwmBits(self) -> int:
        return self.displayed.pwmBits

    @pwmBits.setter
    def pwmBits(self, pwmBits: int) -> None:
        self.displayed.pwmBits = pwmBits
        self._pwm_bits = self.displayed.pwmBits

    @property
    def luminanceCorrect(self) -> bool:
        return self._luminance

    @luminanceCorrect.setter
    def luminanceCorrect(self, luminanceCorrect: bool) -> None:
        self._luminance = bool(luminanceCorrect)

    def shown(self) -> np.ndarray:
        """Test helper: what the panel shows now."""
        return self.displayed.pixels.copy()


#: The public API of RGBMatrix: what a NULL matrix crashes on (or, through _getCanvas, raises).
_NULL_CALLS = frozenset({"width", "height", "CreateFrameCanvas", "SwapOnVSync", "SetImage",
                         "SetPixelsPillow", "Clear", "Fill", "SetPixel", "brightness",
                         "pwmBits", "luminanceCorrect", "shown"})
_RAISE_ON_NULL = frozenset({"SetImage", "SetPixelsPillow"})


def live_matrices() -> list[RGBMatrix]:
    """Test helper: the matrices not yet freed."""
    return [m for m in (r() for r in MATRICES) if m is not None]


def reset() -> None:
    """Test helper: forget everything recorded and restore all features."""
    global GPIO_OK
    MATRICES.clear()
    RELEASED.clear()
    CRASHES.clear()
    GPIO_OK = True
    for k in FEATURES:
        FEATURES[k] = True


__all__ = ["FrameCanvas", "RGBMatrix", "RGBMatrixOptions"]
