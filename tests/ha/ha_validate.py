"""Validate a device discovery document with Home Assistant's own MQTT code.

Run by the Python of a separate venv that has ``homeassistant`` installed (it needs
Python 3.13; the project's venv never gets it): reads the document as JSON on stdin,
does what HA's ``mqtt.discovery`` does with a device payload (expand the
abbreviations, ``DEVICE_DISCOVERY_SCHEMA``, the origin schema, then per component:
pop the platform, add device and origin, inherit ``SHARED_OPTIONS``), validates each
component with its platform's ``DISCOVERY_SCHEMA``, and prints one JSON object:
``{"ha_version", "errors": [...], "dropped": {component: [keys]}, "warnings": [...],
"shared_options", "abbreviations": {"top": n, "device": n, "origin": n}}``.
``dropped`` are the keys HA silently removes (its discovery schemas are
``extra=REMOVE_EXTRA``): a typo or a key HA no longer knows. Imports only the
standard library and Home Assistant.
"""

from __future__ import annotations

import asyncio
import copy
import importlib
import json
import logging
import sys
import tempfile
from typing import Any


def main() -> int:
    """Validate the document on stdin; print the findings as JSON."""
    doc: dict[str, Any] = json.load(sys.stdin)
    print(json.dumps(asyncio.run(_in_home_assistant(doc))))
    return 0


async def _in_home_assistant(doc: dict[str, Any]) -> dict[str, Any]:
    """Validate inside a (not started) HomeAssistant, as HA validates templates."""
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers import frame

    warnings: list[str] = []
    handler = _Collect(warnings)
    logging.getLogger("homeassistant").addHandler(handler)
    with tempfile.TemporaryDirectory() as config_dir:
        hass = HomeAssistant(config_dir)
        frame.async_setup(hass)
        result = _validate(doc)
    logging.getLogger("homeassistant").removeHandler(handler)
    return {**result, "warnings": warnings}


class _Collect(logging.Handler):
    """Keeps what HA logs at WARNING or above while it validates (it warns, not fails,
    for some mistakes, such as a unit that does not go with a device class)."""

    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(f"{record.name}: {record.getMessage()}")


def _validate(doc: dict[str, Any]) -> dict[str, Any]:
    import voluptuous as vol
    from homeassistant.components.mqtt import abbreviations, discovery, schemas
    from homeassistant.const import __version__

    errors: list[str] = []
    dropped: dict[str, list[str]] = {}
    payload = copy.deepcopy(doc)
    discovery._replace_all_abbreviations(payload)
    try:
        schemas.DEVICE_DISCOVERY_SCHEMA(payload)
    except vol.Invalid as exc:
        errors.append(f"device discovery: {exc}")
    try:
        schemas.MQTT_ORIGIN_INFO_SCHEMA(payload.get("origin"))
    except vol.Invalid as exc:
        errors.append(f"origin: {exc}")
    for key, component in (payload.get("components") or {}).items():
        config = dict(component)
        platform = config.pop("platform", None)
        if not config:
            continue  # platform only: HA removes that component
        config["device"], config["origin"] = payload.get("device"), payload.get("origin")
        for option in schemas.SHARED_OPTIONS:
            if option in payload and option not in config:
                config[option] = payload[option]
        try:
            module = importlib.import_module(f"homeassistant.components.mqtt.{platform}")
            validated = module.DISCOVERY_SCHEMA(config)
        except (ImportError, AttributeError) as exc:
            errors.append(f"{key}: platform {platform!r}: {exc}")
            continue
        except vol.Invalid as exc:
            errors.append(f"{key} ({platform}): {exc}")
            continue
        gone = sorted(set(config) - set(validated))
        if gone:
            dropped[key] = gone
    return {
        "ha_version": __version__,
        "errors": errors,
        "dropped": dropped,
        "shared_options": list(schemas.SHARED_OPTIONS),
        "abbreviations": {"top": len(abbreviations.ABBREVIATIONS),
                          "device": len(abbreviations.DEVICE_ABBREVIATIONS),
                          "origin": len(abbreviations.ORIGIN_ABBREVIATIONS)},
    }


if __name__ == "__main__":
    sys.exit(main())
