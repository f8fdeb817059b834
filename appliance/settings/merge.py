"""Merging and comparing settings documents (plain JSON values, not models).

Owns how a remote patch applies to the settings in force (``merge``) and how a
change is described (``diff_paths``: dotted paths with old and new values).
Knows nothing of the schema, files, MQTT or Flask.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def merge(base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge ``patch`` into ``base`` (objects merge; other values replace)."""
    out = dict(base)
    for key, value in patch.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            # animation.params.<name> replaces per animation, deeper dicts merge too
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def diff_paths(old: Any, new: Any, prefix: str = "") -> list[dict[str, Any]]:
    """Return the changes between two JSON values as dotted-path entries."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[dict[str, Any]] = []
        for key in sorted(set(old) | set(new), key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in old:
                out.append({"path": path, "old": None, "new": new[key]})
            elif key not in new:
                out.append({"path": path, "old": old[key], "new": None})
            else:
                out.extend(diff_paths(old[key], new[key], path))
        return out
    if old != new:
        return [{"path": prefix or "(root)", "old": old, "new": new}]
    return []
