"""Reading settings: validate a document, decode a file's bytes, load a file, dump one.

Owns the entry points that turn bytes or decoded JSON into ``Settings`` (bounded JSON,
then the schema, with the animation catalogue given by the caller), and the on-disk
serialisation. Knows no MQTT, displays, Flask nor animation module.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from appliance.settings import catalogue as catalogue_mod
from appliance.settings.catalogue import BUILTIN, CatalogueArg
from appliance.settings.errors import SettingsError, problems_of
from appliance.settings.schema import Settings


def validate(data: Any, catalogue: CatalogueArg = BUILTIN) -> Settings:
    """Validate a decoded settings object or raise SettingsError.

    ``catalogue`` checks animation names and parameters: an animation registry, a
    ``Catalogue``, ``BUILTIN`` (the built-in animations, imported now) or None (skip).
    """
    if not isinstance(data, dict):
        raise SettingsError([("(root)", "settings must be a JSON object")])
    try:
        return Settings.model_validate(data, context=catalogue_mod.context(catalogue))
    except ValidationError as exc:
        raise SettingsError(problems_of(exc)) from None


def parse_bytes(raw: bytes, source: str = "", catalogue: CatalogueArg = BUILTIN) -> Settings:
    """Decode (bounded JSON: no deep nesting, odd numbers or duplicate keys) and validate."""
    from appliance.wire import jsonsafe

    try:
        data = jsonsafe.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise SettingsError([("(file)", "not UTF-8 text")], source) from None
    except jsonsafe.JSONError as exc:
        raise SettingsError([(exc.field or "(file)", exc.reason)], source) from None
    try:
        return validate(data, catalogue)
    except SettingsError as exc:
        exc.source = source
        raise


def load(path: Path, catalogue: CatalogueArg = BUILTIN) -> Settings:
    """Read and validate a settings file; a missing file is an error."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SettingsError([("(file)", f"{path} does not exist")], str(path)) from None
    except OSError as exc:
        problem = ("(file)", f"cannot read {path}: {exc.strerror}")
        raise SettingsError([problem], str(path)) from None
    return parse_bytes(raw, str(path), catalogue)


def default_settings_path(cli_value: str | None) -> Path:
    """Pick the settings file: the CLI value, else $LIGHTBOX_SETTINGS, else ./settings.json."""
    if cli_value:
        return Path(cli_value)
    env = os.environ.get("LIGHTBOX_SETTINGS")
    return Path(env) if env else Path("settings.json")


def read_secret(path: Path | None) -> str | None:
    """Return the first line of a secret file ("" when empty), or None when there is none."""
    if path is None or not path.exists():
        return None
    lines = path.read_text(encoding="utf-8").splitlines()
    return lines[0].strip() if lines else ""


def to_json_bytes(data: Mapping[str, Any]) -> bytes:
    """Serialise a settings object the way it is stored on disk."""
    return (json.dumps(data, indent=2, sort_keys=False, default=str) + "\n").encode()


def dump(settings: Settings) -> dict[str, Any]:
    """Return the settings as JSON-ready data (without derived defaults for device_id)."""
    return settings.model_dump(mode="json", exclude_none=False)
