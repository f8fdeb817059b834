"""Bounded JSON: the one decoder for what LightBox reads and the one encoder for what it sends.

``loads`` accepts only JSON that every consumer can handle: nesting of at most
``MAX_DEPTH`` levels (checked by a linear scan before the parser runs, so a deep
payload can never reach a ``RecursionError``), integers of at most
``MAX_INT_DIGITS`` digits, numbers inside the float range, no ``NaN``/``Infinity``
literals and no duplicate keys. Anything else raises ``JSONError`` naming what is
wrong and, when it can, the dotted path of the offending value.

``dumps`` never emits a non-finite number: one that would slip out is replaced by
``null`` and logged, and the caller's publish goes on.

Shared by the engine (MQTT commands and publishes), the bridge (HTTP bodies,
responses, SSE) and settings (files and backups). Knows nothing of paho, Flask,
displays or the render loop.
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any

import structlog

log = structlog.get_logger("jsonsafe")

#: Deepest nesting of arrays and objects accepted (contract section 5).
MAX_DEPTH = 32
#: Longest integer accepted, in digits (20 holds every 64-bit integer).
MAX_INT_DIGITS = 20

_STRING = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"?', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}.__getitem__


class JSONError(ValueError):
    """Text that is not JSON LightBox accepts; nothing was decoded.

    ``syntax`` is True when the text does not parse at all (as opposed to JSON that
    parses but is refused); ``field`` is the dotted path of the refused value and
    ``reason`` what is wrong with it; ``message`` says both.
    """

    def __init__(self, reason: str, field: str | None = None, *, syntax: bool = False) -> None:
        self.message = f"{field}: {reason}" if field else reason
        super().__init__(self.message)
        self.reason = reason
        self.field = field
        self.syntax = syntax


class _Refused(ValueError):
    """Raised from a parser hook: the value is refused (its path is found afterwards)."""


class _Marker:
    """Stands in for a refused value while its path is looked for."""

    def __init__(self, why: str) -> None:
        self.why = why


class _DupDict(dict[str, Any]):
    """An object that had a duplicate key (kept for the path search)."""

    dup: str = ""


def _int_strict(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refused(text)
    return int(text)


def _float_strict(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(text)
    return value


def _constant_strict(name: str) -> Any:
    raise _Refused(name)


def _pairs_strict(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise _Refused("duplicate key")
    return out


#: The fast decoder: refuses at the first odd value without saying where.
_STRICT = json.JSONDecoder(parse_int=_int_strict, parse_float=_float_strict,
                           parse_constant=_constant_strict, object_pairs_hook=_pairs_strict)


def _int_marked(text: str) -> Any:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        return _Marker(f"an integer of {digits} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _float_marked(text: str) -> Any:
    value = float(text)
    if not math.isfinite(value):
        return _Marker(f"{text[:20]} is outside the float range")
    return value


def _constant_marked(name: str) -> Any:
    return _Marker(f"{name} is not a number JSON allows")


def _pairs_marked(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            out = _DupDict(pairs)
            out.dup = key
            return out
        seen.add(key)
    return dict(pairs)


#: The slow decoder, used only after a refusal, to name the refused value's path.
_MARKED = json.JSONDecoder(parse_int=_int_marked, parse_float=_float_marked,
                           parse_constant=_constant_marked, object_pairs_hook=_pairs_marked)


def _find(value: Any, path: str) -> tuple[str, str] | None:
    """Return (dotted path, reason) of the first refused value under ``value``."""
    if isinstance(value, _Marker):
        return path, value.why
    if isinstance(value, _DupDict):
        return f"{path}.{value.dup}" if path else value.dup, "duplicate key"
    items: Any = ()
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    for key, child in items:
        found = _find(child, f"{path}.{key}" if path else str(key))
        if found is not None:
            return found
    return None


def check_depth(text: str, limit: int = MAX_DEPTH) -> None:
    """Raise JSONError when arrays and objects nest deeper than ``limit`` (strings skipped).

    Linear and without recursion: strings are cut out (an unterminated one runs to the
    end, where the parser would stop too), then the running count of the brackets left
    is taken. Before the parser's first error that count is exactly its nesting depth.
    """
    if text.count("[") + text.count("{") <= limit:
        return  # the common case: too few brackets to be too deep
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if max(accumulate(map(_STEP, brackets)), default=0) > limit:
        raise JSONError(f"nested deeper than {limit} levels")


def loads(text: str) -> Any:
    """Decode JSON text or raise JSONError saying what is wrong (and where)."""
    check_depth(text)
    try:
        return _STRICT.decode(text)
    except _Refused:
        pass
    except json.JSONDecodeError as exc:
        raise _syntax(exc) from None
    try:
        found = _find(_MARKED.decode(text), "")
    except json.JSONDecodeError as exc:
        raise _syntax(exc) from None  # a refused value, and broken further on
    path, reason = found if found is not None else ("", "a value JSON does not allow")
    raise JSONError(reason, path or None)


def _syntax(exc: json.JSONDecodeError) -> JSONError:
    return JSONError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
                     syntax=True)


def _finite(value: Any, path: str, bad: list[str]) -> Any:
    """Return ``value`` with every non-finite float replaced by None (paths into ``bad``)."""
    if isinstance(value, float) and not math.isfinite(value):
        bad.append(path or "(root)")
        return None
    if isinstance(value, dict):
        return {(str(k) if isinstance(k, float) else k):
                _finite(v, f"{path}.{k}" if path else str(k), bad) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v, f"{path}.{i}" if path else str(i), bad) for i, v in enumerate(value)]
    return value


def dumps(value: Any, *, indent: int | None = None) -> str:
    """Encode ``value`` as JSON (compact unless ``indent``); never emits NaN or Infinity."""
    seps = (",", ":") if indent is None else (",", ": ")
    try:
        return json.dumps(value, separators=seps, indent=indent, default=str, allow_nan=False)
    except ValueError as exc:
        if "Out of range float" not in str(exc):
            raise  # a circular structure: a bug of the caller, not a number to hide
    bad: list[str] = []
    clean = _finite(value, "", bad)
    log.error("nonfinite_replaced", paths=bad[:20], count=len(bad),
              hint="a non-finite number was about to be sent; sent null instead")
    return json.dumps(clean, separators=seps, indent=indent, default=str, allow_nan=False)
