"""LightBox's discovery document against Home Assistant's own MQTT schemas.

``tests/unit/test_discovery.py`` encodes HA's rules by hand; this tier asks HA's
code itself (``homeassistant==2025.4.4``, the newest that installs on Python
3.13.0): ``tests/ha/ha_validate.py`` runs in HA's venv and validates the document
the way HA's MQTT discovery does. Run with ``scripts/test-ha`` (``--prepare``
builds the venv); it fails, never skips, when HA's Python is missing.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from animations import REGISTRY
from appliance import discovery
from appliance.discovery_looks import LookNames
from appliance.settings import validate

pytestmark = pytest.mark.ha

VALIDATOR = Path(__file__).with_name("ha_validate.py")
EXPECTED_VERSION = os.environ.get("LIGHTBOX_HA_VERSION", "2025.4.4")


def ha_check(doc: dict[str, Any]) -> dict[str, Any]:
    """What Home Assistant's code says about ``doc``."""
    python = os.environ.get("LIGHTBOX_HA_PYTHON", "")
    if not python or not Path(python).is_file():
        pytest.fail(f"Home Assistant's Python is missing ({python or 'LIGHTBOX_HA_PYTHON unset'}):"
                    " run scripts/test-ha --prepare", pytrace=False)
    proc = subprocess.run([python, str(VALIDATOR)], input=json.dumps(doc), text=True,
                          capture_output=True, timeout=600, check=False)
    if proc.returncode != 0 or not proc.stdout.strip():
        pytest.fail(f"Home Assistant's validator failed:\n{proc.stderr[-4000:]}", pytrace=False)
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def document(looks: LookNames | None) -> dict[str, Any]:
    settings = validate({"device_id": "kitchen", "display": {"cols": 64, "rows": 32}})
    info = {"display": {"driver": "virtual"}, "host": "pi"}
    return discovery.payload(settings, REGISTRY.catalogue(), info, looks)


@pytest.fixture(scope="module")
def plain() -> dict[str, Any]:
    return ha_check(document(None))


@pytest.fixture(scope="module")
def with_looks() -> dict[str, Any]:
    return ha_check(document(LookNames(presets=("Cozy evening", "Red"),
                                       playlists=("Evening",))))


def test_it_is_the_home_assistant_we_mean(plain: dict[str, Any]) -> None:
    assert plain["ha_version"] == EXPECTED_VERSION


def test_home_assistant_accepts_every_component(plain: dict[str, Any],
                                                with_looks: dict[str, Any]) -> None:
    assert plain["errors"] == []
    assert with_looks["errors"] == []


def test_home_assistant_drops_no_key_we_send(plain: dict[str, Any],
                                             with_looks: dict[str, Any]) -> None:
    # HA's discovery schemas remove unknown keys silently: a typo, or a key HA retired.
    assert plain["dropped"] == {}
    assert with_looks["dropped"] == {}


def test_home_assistant_warns_about_nothing(plain: dict[str, Any],
                                            with_looks: dict[str, Any]) -> None:
    # Some mistakes (a unit that does not go with a device class) are only logged.
    assert plain["warnings"] == []
    assert with_looks["warnings"] == []


def test_the_validator_sees_what_home_assistant_would_refuse_drop_or_warn_about() -> None:
    doc = document(None)
    doc["cmps"]["light"]["effct_list"] = ["plasma"]  # a typo HA drops silently
    doc["cmps"]["fps"]["device_class"] = "temperature"  # "fps" is no temperature unit
    doc["cmps"]["animation"]["platform"] = "no_such_platform"
    result = ha_check(doc)
    assert result["dropped"] == {"light": ["effct_list"]}
    assert any("fps" in w and "temperature" in w for w in result["warnings"])
    assert any(e.startswith("animation") for e in result["errors"])


def test_every_component_that_commands_says_its_own_qos(plain: dict[str, Any]) -> None:
    # HA 2025.4 inherits only SHARED_OPTIONS from the device level (availability and
    # the topics): the top-level "qos" is accepted but not passed on, so a component
    # without its own qos publishes its commands at qos 0.
    assert "qos" not in plain["shared_options"]
    doc = document(LookNames(presets=("Red",), playlists=("Evening",)))
    for key, c in doc["cmps"].items():
        if "command_topic" in c:
            assert c.get("qos") == 1, key
