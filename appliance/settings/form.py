"""The settings form's schema: per setting its section, type, choices, range, default,
help text and markers (restart needed, local only, advanced), from the same model and
descriptions docs/settings.md is generated from. Served by the bridge as
``GET /api/config/schema``; knows nothing of MQTT or Flask.
"""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from appliance.settings import is_local_only
from appliance.settings.doc import MEANING, SECTIONS, fields
from appliance.settings.schema import RESTART_PREFIXES

#: The settings a newcomer looks for; every other one is folded away as advanced.
BASIC = frozenset({
    "device_id", "display.driver", "display.rows", "display.cols", "display.chain_length",
    "display.parallel", "display.hardware_mapping", "display.gpio_slowdown",
    "display.brightness", "display.fps", "animation.default", "animation.fallback",
    "animation.boot", "mqtt.host", "mqtt.port", "mqtt.username", "mqtt.discovery",
    "mqtt.groups", "bridge.host", "bridge.port", "logging.level", "logging.format",
})
#: Settings the form edits whole, as one JSON value: an optional object and a list of
#: objects (the web UI's Schedule card is the friendly editor of the windows).
WHOLE = {"location": "object", "schedule": "list"}
GENERAL = "general"
TITLES = {GENERAL: "General", "display": "Display", "animation": "Animation", "mqtt": "MQTT",
          "mqtt.tls": "MQTT TLS", "bridge": "Web bridge", "health": "Health",
          "logging": "Logging"}


def _base_type(ann: Any) -> tuple[Any, bool]:
    """Return the annotation without ``| None``, and whether None is allowed."""
    if typing.get_origin(ann) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        return (args[0] if len(args) == 1 else ann), len(args) < len(typing.get_args(ann))
    return ann, False


def _kind(ann: Any) -> tuple[str, list[Any] | None]:
    if typing.get_origin(ann) is typing.Literal:
        return "choice", list(typing.get_args(ann))
    if ann is bool:
        return "boolean", None
    if ann is int:
        return "integer", None
    if ann is float:
        return "number", None
    if typing.get_origin(ann) is list:
        return "list", None
    if typing.get_origin(ann) is dict:
        return "object", None
    return "string", None  # str, Path


def _bounds(f: FieldInfo) -> dict[str, float]:
    out: dict[str, float] = {}
    for m in f.metadata:
        for attr, key in (("ge", "min"), ("gt", "min"), ("le", "max"), ("lt", "max")):
            value = getattr(m, attr, None)
            if value is not None:
                out[key] = value
                if attr in ("gt", "lt"):
                    out[f"exclusive_{key}"] = True
    return out


def _default(f: FieldInfo) -> Any:
    value = f.get_default(call_default_factory=True)
    if isinstance(value, Path):
        return str(value)
    required = value is typing.cast(Any, ...) or value is PydanticUndefined
    return None if required else value


def field_schema(path: str, f: FieldInfo, section: str) -> dict[str, Any]:
    """One setting's entry in the schema."""
    ann, nullable = _base_type(f.annotation)
    kind, choices = _kind(ann)
    entry: dict[str, Any] = {
        "path": path, "section": section, "type": kind, "nullable": nullable,
        "default": None if path == "device_id" else _default(f),
        "help": MEANING.get(path, ""),
        "restart_required": path.startswith(RESTART_PREFIXES),
        "local_only": is_local_only(path),
        "advanced": path not in BASIC,
    }
    if choices is not None:
        entry["choices"] = choices
    entry.update(_bounds(f))
    return entry


def whole_schema(path: str) -> dict[str, Any]:
    """The entry of a setting in ``WHOLE``: one JSON value (``null`` for no location)."""
    return {"path": path, "section": GENERAL, "type": WHOLE[path],
            "nullable": WHOLE[path] == "object", "default": None if path == "location" else [],
            "help": SECTIONS.get(path, ""), "restart_required": False,
            "local_only": is_local_only(path), "advanced": True}


def schema() -> dict[str, Any]:
    """The whole schema: ordered sections and every leaf setting (``WHOLE`` ones as one)."""
    sections = [{"id": GENERAL, "title": TITLES[GENERAL], "help": ""}]
    out: list[dict[str, Any]] = []
    for path, f, sub in fields():
        root = path.split(".", 1)[0]
        if root in WHOLE:
            if path == root:
                out.append(whole_schema(root))
            continue
        if sub is not None:
            sections.append({"id": path, "title": TITLES.get(path, path),
                             "help": SECTIONS.get(path, "")})
            continue
        section = path.rsplit(".", 1)[0] if "." in path else GENERAL
        out.append(field_schema(path, f, section))
    return {"sections": sections, "fields": out}
