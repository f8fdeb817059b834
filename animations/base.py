"""Animation contract: typed parameters, the Animation base class and the registry.

Pure drawing only: numpy in, numpy out. Knows nothing of MQTT, Flask, files,
clocks or sleep. Every animation is a class that declares a stable ``name``, a
``title`` and its ``params``, and draws the frame for time ``t`` (seconds).
"""

from __future__ import annotations

import abc
import importlib
import math
import pkgutil
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any, ClassVar, Literal, TypeVar

import numpy as np

ParamType = Literal["int", "float", "bool", "color", "choice", "string"]
Colour = tuple[int, int, int]

#: The unit of a speed or size multiplier: the multiplication sign.
TIMES = "\u00d7"

#: Headings of the catalogue's ``group`` key, in the order a user interface lists them:
#: everyday looks first, test patterns last and apart.
GROUPS = ("Ambient", "Lively", "Clock & text", "Images", "Utility", "Test patterns")

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_HEX_RE = re.compile(r"^#?([0-9a-fA-F]{6})$")


class ParamError(ValueError):
    """A parameter value is wrong; ``field`` names it."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


class RegistryError(ValueError):
    """An animation class cannot be registered (bad or duplicate name, bad params)."""


class UnknownAnimationError(KeyError):
    """No animation of that name is registered."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        super().__init__(name)
        self.name = name
        self.known = sorted(known)

    def __str__(self) -> str:
        return f"unknown animation {self.name!r}; known: {', '.join(self.known)}"


def parse_colour(value: Any) -> Colour:
    """Return an (r, g, b) tuple from '#rrggbb', 'rrggbb' or a 3-item list of 0-255 ints."""
    if isinstance(value, str):
        m = _HEX_RE.match(value.strip())
        if not m:
            raise ValueError(f"expected a colour like '#ff8800', got {value!r}")
        h = m.group(1)
        return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))
    if isinstance(value, list | tuple) and len(value) == 3:
        out = []
        for c in value:
            if isinstance(c, bool) or not isinstance(c, int) or not 0 <= c <= 255:
                raise ValueError(f"colour components must be integers 0-255, got {value!r}")
            out.append(c)
        return (out[0], out[1], out[2])
    raise ValueError(f"expected a colour like '#ff8800' or [255, 136, 0], got {value!r}")


def colour_hex(c: Colour) -> str:
    """Format an (r, g, b) tuple as '#rrggbb'."""
    return "#{:02x}{:02x}{:02x}".format(*c)


@dataclass(frozen=True)
class Param:
    """One typed, ranged parameter of an animation."""

    name: str
    type: ParamType
    default: Any
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    help: str = ""
    max_length: int = 64
    #: Human label for controls ("Flame intensity"); derived from ``name`` when empty.
    title: str = ""
    #: Unit shown beside the value ("s", ``TIMES``, "/s"); empty when the value has none.
    unit: str = ""

    def __post_init__(self) -> None:
        if not NAME_RE.match(self.name):
            raise RegistryError(f"parameter name {self.name!r} must match {NAME_RE.pattern}")
        if self.type in ("int", "float") and (self.min is None or self.max is None):
            raise RegistryError(f"parameter {self.name!r}: numeric parameters need min and max")
        if self.type == "choice" and not self.choices:
            raise RegistryError(f"parameter {self.name!r}: choice parameters need choices")
        # The default must itself be valid.
        try:
            self.coerce(self.default)
        except ParamError as exc:
            raise RegistryError(f"parameter {self.name!r}: bad default: {exc.message}") from exc

    def coerce(self, value: Any) -> Any:
        """Return ``value`` converted to this parameter's type, or raise ParamError."""
        return _COERCERS[self.type](self, value)

    def describe(self) -> dict[str, Any]:
        """Return this parameter as a catalogue entry (JSON-ready)."""
        d: dict[str, Any] = {"name": self.name, "type": self.type}
        d["default"] = colour_hex(self.default_value()) if self.type == "color" else self.default
        if self.min is not None:
            d["min"] = _num(self.min)
        if self.max is not None:
            d["max"] = _num(self.max)
        if self.choices:
            d["choices"] = list(self.choices)
        if self.type == "string":
            d["max_length"] = self.max_length
        d["help"] = self.help
        d["title"] = self.label()
        if self.unit:
            d["unit"] = self.unit
        return d

    def label(self) -> str:
        """Return the title, or one made from the name (``color_low`` -> "Colour low")."""
        if self.title:
            return self.title
        words = ["colour" if w == "color" else "colours" if w == "colors" else w
                 for w in self.name.split("_")]
        return " ".join(words).capitalize()

    def default_value(self) -> Any:
        """Return the coerced default."""
        return self.coerce(self.default)


def _num(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x


# One small coercer per parameter type; Param.coerce dispatches on ``Param.type``.


def _coerce_bool(p: Param, value: Any) -> Any:
    if isinstance(value, bool):
        return value
    raise ParamError(p.name, f"expected true or false, got {value!r}")


def _coerce_number(p: Param, value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParamError(p.name, f"expected a number, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ParamError(p.name, f"expected a finite number, got {value!r}")
    assert p.min is not None and p.max is not None
    if p.type == "int":
        if isinstance(value, float) and not value.is_integer():
            raise ParamError(p.name, f"expected an integer, got {value!r}")
        value = int(value)
    elif abs(value) > 1e300:  # an integer this large would overflow float()
        raise ParamError(p.name, f"out of range {_num(p.min)}..{_num(p.max)}")
    else:
        value = float(value)
    if not p.min <= value <= p.max:
        raise ParamError(p.name, f"{value!r} is out of range {_num(p.min)}..{_num(p.max)}")
    return value


def _coerce_color(p: Param, value: Any) -> Any:
    try:
        return parse_colour(value)
    except ValueError as exc:
        raise ParamError(p.name, str(exc)) from None


def _coerce_choice(p: Param, value: Any) -> Any:
    if value not in p.choices:
        raise ParamError(p.name, f"{value!r} is not one of: {', '.join(p.choices)}")
    return value


def _coerce_string(p: Param, value: Any) -> Any:
    if not isinstance(value, str):
        raise ParamError(p.name, f"expected text, got {value!r}")
    if len(value) > p.max_length:
        raise ParamError(p.name, f"text longer than {p.max_length} characters")
    if any(ord(ch) < 32 for ch in value):
        raise ParamError(p.name, "text must not contain control characters")
    return value


_COERCERS: dict[str, Callable[[Param, Any], Any]] = {
    "bool": _coerce_bool,
    "int": _coerce_number,
    "float": _coerce_number,
    "color": _coerce_color,
    "choice": _coerce_choice,
    "string": _coerce_string,
}



class Animation(abc.ABC):
    """Base class: subclasses declare name, title, params and implement ``draw``.

    ``draw(t)`` returns an ``(height, width, 3)`` array of floats or uint8 in
    0..255. It may reuse its own buffers. Values outside the range are made
    safe by the engine's colour choke point, never by the animation.
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    description: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()
    #: Hidden animations (test patterns, images) are registered but marked so in the catalogue.
    category: ClassVar[str] = "effect"
    #: The heading a user interface lists it under (one of ``GROUPS``); empty: from category.
    group: ClassVar[str] = ""
    #: True when a frame depends on earlier draw() calls (a simulation stepped in t).
    #: Such animations must be deterministic for a seed and restart when t goes back.
    stateful: ClassVar[bool] = False

    def __init__(self, width: int, height: int, params: Mapping[str, Any], seed: int = 0) -> None:
        self.width = width
        self.height = height
        self.p: dict[str, Any] = dict(params)
        self.rng = np.random.default_rng(seed)
        #: Wall-clock time (epoch seconds) at t == 0, set by the engine; lets a clock
        #: animation show the time of day while staying a function of t.
        self.epoch_at_t0: float = 0.0
        #: Time zone for animations that show the time of day, set by the engine (from a
        #: ``timezone`` setting); None means the process's local zone.
        self.tz: tzinfo | None = None
        self.setup()

    def setup(self) -> None:  # noqa: B027 - optional hook, empty by default
        """Prepare buffers and state; called once from the constructor."""

    def update_params(self, params: Mapping[str, Any]) -> None:
        """Take new (already validated) parameter values live, then ``configure()``."""
        self.p.update(params)
        self.configure()

    def configure(self) -> None:  # noqa: B027 - optional hook, empty by default
        """Rebuild what is derived from ``self.p``; called after every parameter change."""

    @abc.abstractmethod
    def draw(self, t: float) -> np.ndarray:
        """Return the frame for time ``t`` seconds."""

    # Helpers shared by many animations -------------------------------------------------
    def grid(self) -> tuple[np.ndarray, np.ndarray]:
        """Return (x, y) float32 coordinate grids of shape (H, W), cached."""
        g = getattr(self, "_grid", None)
        if g is None:
            y, x = np.mgrid[0 : self.height, 0 : self.width].astype(np.float32)
            g = (x, y)
            self._grid = g
        return g


A = TypeVar("A", bound=type[Animation])


@dataclass
class Registry:
    """All known animations by name; rejects duplicate and invalid names."""

    _classes: dict[str, type[Animation]] = field(default_factory=dict)

    def register(self, cls: A) -> A:
        """Add an animation class (usable as a decorator)."""
        name = getattr(cls, "name", "")
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise RegistryError(
                f"{cls.__name__}: animation name {name!r} must match {NAME_RE.pattern}"
            )
        if name in self._classes and self._classes[name] is not cls:
            raise RegistryError(f"{cls.__name__}: animation name {name!r} is already registered")
        if not cls.title:
            raise RegistryError(f"{cls.__name__}: animation {name!r} needs a title")
        if cls.group and cls.group not in GROUPS:
            raise RegistryError(f"{cls.__name__}: group {cls.group!r} is not one of {GROUPS}")
        seen: set[str] = set()
        for p in cls.params:
            if p.name in seen:
                raise RegistryError(f"{name}: duplicate parameter {p.name!r}")
            seen.add(p.name)
        if getattr(cls, "__abstractmethods__", None):
            raise RegistryError(f"{cls.__name__}: animation {name!r} does not implement draw()")
        self._classes[name] = cls
        return cls

    def unregister(self, name: str) -> None:
        """Remove an animation (used by tests that register throwaway classes)."""
        self._classes.pop(name, None)

    def __contains__(self, name: object) -> bool:
        return name in self._classes

    def names(self) -> list[str]:
        """Return the registered names in catalogue order."""
        return sorted(self._classes)

    def get(self, name: str) -> type[Animation]:
        """Return the class for ``name`` or raise UnknownAnimationError."""
        try:
            return self._classes[name]
        except KeyError:
            raise UnknownAnimationError(name, self._classes) from None

    def resolve_params(
        self, name: str, given: Mapping[str, Any], base: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Return the full parameter set: defaults, then ``base``, then ``given`` (validated).

        Unknown parameter names are an error naming the key.
        """
        cls = self.get(name)
        specs = {p.name: p for p in cls.params}
        out = {p.name: p.default_value() for p in cls.params}
        for source in (base or {}), given:
            for key, value in source.items():
                spec = specs.get(key)
                if spec is None:
                    known = ", ".join(specs) or "none"
                    raise ParamError(key, f"unknown parameter for {name!r} (known: {known})")
                out[key] = spec.coerce(value)
        return out

    def create(
        self, name: str, width: int, height: int, params: Mapping[str, Any], seed: int = 0
    ) -> Animation:
        """Instantiate ``name`` with validated parameters."""
        cls = self.get(name)
        return cls(width, height, self.resolve_params(name, params), seed=seed)

    def catalogue(self) -> list[dict[str, Any]]:
        """Return the JSON-ready catalogue published on ``<base>/animations``."""
        out = []
        for name in self.names():
            cls = self._classes[name]
            out.append(
                {
                    "name": name,
                    "title": cls.title,
                    "category": cls.category,
                    "group": group_of(cls),
                    "description": cls.description,
                    "params": [p.describe() for p in cls.params],
                }
            )
        return out


_CATEGORY_GROUPS = {"test": "Test patterns", "image": "Images", "utility": "Utility"}


def group_of(cls: type[Animation]) -> str:
    """Return the catalogue heading of ``cls``: its ``group``, else one from its category."""
    return cls.group or _CATEGORY_GROUPS.get(cls.category, "Ambient")


def params_to_json(cls: type[Animation], values: Mapping[str, Any]) -> dict[str, Any]:
    """Return parameter values in their wire form (colours as '#rrggbb')."""
    types = {p.name: p.type for p in cls.params}
    return {
        k: (colour_hex(v) if types.get(k) == "color" else v) for k, v in values.items()
    }


REGISTRY = Registry()
register: Callable[[A], A] = REGISTRY.register


def load_builtins(package: str = "animations") -> Registry:
    """Import every module of the animations package so their @register decorators run."""
    pkg = importlib.import_module(package)
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name != "base" and not info.name.startswith("_"):
            importlib.import_module(f"{package}.{info.name}")
    return REGISTRY
