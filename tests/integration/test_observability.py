"""Observability against a real broker: HA birth, decommission, fleets in step, health."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from tests.support import LightboxProcess, MQTTProbe

pytestmark = pytest.mark.integration

Probe = Callable[..., MQTTProbe]
Factory = Callable[..., LightboxProcess]
DISCOVERY = "homeassistant/device/lightbox_{}/config"


def test_discovery_is_republished_1_to_5_s_after_home_assistant_comes_online(
        engine_factory: Factory, probe: Probe) -> None:
    engine_factory("obs")
    ha = probe("homeassistant").subscribe(DISCOVERY.format("obs"))
    ha.wait_for(DISCOVERY.format("obs"))
    mark = ha.mark()
    t0 = time.monotonic()
    ha.publish("homeassistant/status", "online")
    doc = ha.wait_for(DISCOVERY.format("obs"), since=mark, timeout_s=15)
    delay_s = time.monotonic() - t0
    assert doc["cmps"]["light"]["unique_id"] == "lightbox_obs_light"
    assert delay_s >= 1.0  # HA needs a moment to subscribe after its birth message


def test_decommission_removes_the_device_from_home_assistant(
        engine_factory: Factory, probe: Probe) -> None:
    eng = engine_factory("gone")
    ha = probe("homeassistant").subscribe(DISCOVERY.format("gone"))
    ha.wait_for(DISCOVERY.format("gone"))
    eng.stop()
    r = subprocess.run([sys.executable, "-m", "appliance", "decommission", "--settings",
                        str(eng.settings_path)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    fresh = probe("homeassistant").subscribe(DISCOVERY.format("gone"), "lightbox/gone/#",
                                             wait_s=1.0)
    retained = [m.topic for m in fresh.messages if m.retain and m.payload]
    assert DISCOVERY.format("gone") not in retained
    assert retained in ([], ["lightbox/gone/status"])  # only the 'offline' status may stay


def test_start_at_starts_a_group_on_the_same_phase(engine_factory: Factory,
                                                   probe: Probe) -> None:
    engine_factory("left", mqtt={"groups": ["wall"]})
    engine_factory("right", mqtt={"groups": ["wall"]})
    p = probe().subscribe("lightbox/left/state", "lightbox/right/state")
    start_at = round(time.time() + 2.0, 3)
    p.publish("lightbox/group/wall/cmd/animation", {"name": "breathe", "start_at": start_at})
    states = [p.wait_for(f"lightbox/{d}/state", lambda s: s["effect"] == "breathe")
              for d in ("left", "right")]
    # Animations are pure functions of t; both boxes put t=0 at the same wall time.
    assert [s["started_at"] for s in states] == [start_at, start_at]
