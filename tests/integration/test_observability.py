"""Observability against a real broker: HA birth, decommission, fleets in step, health."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

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


def test_home_assistant_online_also_gets_availability_and_state_again(
        engine_factory: Factory, probe: Probe) -> None:
    """With the discovery goes what its entities read: a clustered broker (ejabberd 23)
    keeps retained messages on one node, so a HA restarted on another node would
    otherwise see the box unavailable until its state next changed."""
    engine_factory("obs2")
    ha = probe("homeassistant").subscribe(DISCOVERY.format("obs2"), "lightbox/obs2/status",
                                          "lightbox/obs2/state")
    ha.wait_for("lightbox/obs2/state")
    mark = ha.mark()
    ha.publish("homeassistant/status", "online")
    assert ha.wait_for("lightbox/obs2/status", since=mark, timeout_s=15) == "online"
    assert ha.wait_for("lightbox/obs2/state", since=mark, timeout_s=15)["state"] == "ON"
    ha.wait_for(DISCOVERY.format("obs2"), since=mark, timeout_s=15)


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


def test_health_degrades_for_a_slow_animation_and_recovers(
        engine_factory: Factory, probe: Probe, tmp_path: Path) -> None:
    flag = tmp_path / "slow.flag"
    flag.touch()
    engine_factory("slow", env={"LIGHTBOX_EXTRA_ANIMATIONS": "tests.integration.slow_animation",
                                "LIGHTBOX_SLOW_FLAG": str(flag)},
                   health={"interval_s": 1},
                   # Drawn inline, so its slowness is the render loop's (a sandboxed
                   # animation would only show stale frames).
                   animation={"isolation": "none"})
    p = probe().subscribe("lightbox/slow/health", "lightbox/slow/events")
    p.publish("lightbox/slow/cmd/animation", "slow_test")
    sick = p.wait_for("lightbox/slow/health", lambda h: h["checks"]["render"]["status"]
                      == "degraded", timeout_s=30)
    assert sick["status"] == "degraded"
    assert any(r.startswith("render: ") and "fps is below 90% of 30" in r
               for r in sick["reasons"])
    assert sick["checks"]["render"]["fps"] < 27
    mark = p.mark()
    flag.unlink()
    well = p.wait_for("lightbox/slow/health", lambda h: h["status"] == "ok", since=mark,
                      timeout_s=30)
    assert well["reasons"] == [] and well["checks"]["render"]["fps"] >= 27


def test_health_reports_a_failing_display_and_its_recovery(
        engine_factory: Factory, probe: Probe) -> None:
    eng = engine_factory("flaky", display={"retry_initial_s": 0.5, "retry_max_s": 1},
                         health={"interval_s": 1})
    p = probe().subscribe("lightbox/flaky/health", "lightbox/flaky/events")
    eng.fault_path.write_text("HUB75 cable unplugged")
    sick = p.wait_for("lightbox/flaky/health", lambda h: h["status"] == "failed",
                      timeout_s=20)
    assert sick["checks"]["display"]["error"].endswith("HUB75 cable unplugged")
    assert any(r.startswith("display: virtual driver failed") for r in sick["reasons"])
    eng.fault_path.unlink()
    p.wait_for("lightbox/flaky/events", lambda e: e.get("event") == "display_recovered",
               timeout_s=20)
    p.wait_for("lightbox/flaky/health", lambda h: h["checks"]["display"]["status"] == "ok",
               timeout_s=20)


def test_health_is_degraded_when_running_from_a_backup(
        engine_factory: Factory, probe: Probe, tmp_path: Path) -> None:
    eng = engine_factory("cfg", health={"interval_s": 1})
    eng.stop()
    # Keep the good file as the newest backup, then break the file itself.
    backups = eng.settings_path.parent / "backups"
    backups.mkdir(exist_ok=True)
    (backups / "settings-20260101T000000000000Z.json").write_text(
        eng.settings_path.read_text())
    eng.settings_path.write_text('{"display": {"fps": "fast"}}')
    eng.start()
    p = probe().subscribe("lightbox/cfg/health")
    h = p.wait_for("lightbox/cfg/health", lambda h: h["checks"]["config"]["status"]
                   == "degraded", timeout_s=20)
    assert h["checks"]["config"]["source"].startswith("backup:")
    assert any("display.fps" in r for r in h["reasons"])
