"""The animation catalogue settings are validated against, given, never imported.

Owns the ``Catalogue`` protocol the schema checks ``animation.default``,
``animation.fallback`` and ``animation.params`` with, and its three sources: an
animation registry the engine passes (``RegistryCatalogue``), the retained
``<base>/animations`` catalogue the bridge has (``RetainedCatalogue``), and the
built-in animations, imported on first use only (``BUILTIN``), so importing
``appliance.settings`` loads no animation module. Knows no files, MQTT or Flask.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal, Protocol, runtime_checkable

#: Validation-context key under which the schema finds the catalogue.
CONTEXT_KEY: Final = "catalogue"
#: Check against the built-in animations (``import animations`` on first use).
BUILTIN: Final = "builtin"


@runtime_checkable
class Catalogue(Protocol):
    """What the schema needs to know about animations."""

    def __contains__(self, name: object) -> bool:
        """Say whether an animation of that name exists."""
        ...

    def param_problem(self, name: str, values: Mapping[str, Any]) -> tuple[str, str] | None:
        """Return (parameter, message) for the first bad parameter, or None."""
        ...


class _Registry(Protocol):
    """The part of ``animations.Registry`` a ``RegistryCatalogue`` uses."""

    def __contains__(self, name: object) -> bool: ...

    def resolve_params(self, name: str, given: Mapping[str, Any]) -> Any: ...


#: What ``validate``/``load`` accept: a catalogue, BUILTIN, or None to skip the check.
CatalogueArg = Catalogue | _Registry | Literal["builtin"] | None


class RegistryCatalogue:
    """A catalogue backed by an animation registry: names and full parameter checks."""

    def __init__(self, registry: _Registry) -> None:
        self.registry = registry

    def __contains__(self, name: object) -> bool:
        return name in self.registry

    def param_problem(self, name: str, values: Mapping[str, Any]) -> tuple[str, str] | None:
        """Resolve the parameters the way the engine will; report a ParamError."""
        try:
            self.registry.resolve_params(name, values)
        except ValueError as exc:  # animations.ParamError: a ValueError naming its field
            field = getattr(exc, "field", None)
            if field is None:
                raise
            return str(field), str(getattr(exc, "message", exc))
        return None


class RetainedCatalogue:
    """The catalogue the engine retains on ``<base>/animations``, as the bridge sees it.

    Checks animation names and parameter names; the values are the engine's to check
    (it validates every change again before applying it).
    """

    def __init__(self, entries: Iterable[Mapping[str, Any]]) -> None:
        self.params: dict[str, list[str]] = {}
        for entry in entries:
            if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
                self.params[entry["name"]] = [
                    str(p["name"]) for p in entry.get("params") or []
                    if isinstance(p, Mapping) and "name" in p]

    def __contains__(self, name: object) -> bool:
        return name in self.params

    def param_problem(self, name: str, values: Mapping[str, Any]) -> tuple[str, str] | None:
        """Report a parameter the animation does not have (same words as the engine)."""
        specs = self.params.get(name, [])
        for key in values:
            if key not in specs:
                known = ", ".join(specs) or "none"
                return str(key), f"unknown parameter for {name!r} (known: {known})"
        return None


@functools.cache
def builtin() -> Catalogue:
    """Return the built-in animations' catalogue, importing them now (not at import time)."""
    from animations import REGISTRY  # deliberately lazy: see the module docstring

    return RegistryCatalogue(REGISTRY)


def resolve(arg: CatalogueArg) -> Catalogue | None:
    """Turn a ``catalogue=`` argument into a catalogue, or None for "do not check"."""
    if arg is None:
        return None
    if isinstance(arg, str):
        return builtin()
    if isinstance(arg, Catalogue):
        return arg
    return RegistryCatalogue(arg)


def context(arg: CatalogueArg) -> dict[str, Any]:
    """Return the pydantic validation context carrying the catalogue."""
    return {CONTEXT_KEY: resolve(arg)}


def catalogue_from(ctx: Any) -> Catalogue | None:
    """Return the catalogue a validation context carries, or None."""
    if isinstance(ctx, Mapping):
        found = ctx.get(CONTEXT_KEY)
        return found if isinstance(found, Catalogue) else None
    return None
