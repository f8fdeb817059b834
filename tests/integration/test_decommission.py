"""`lightbox decommission` against a real broker with the project's ACL and a real engine.

It must refuse while the engine runs (the engine would publish its discovery again on
its next connect), and once the engine is stopped, HA's discovery topic must stay
empty: still empty after longer than the engine's reconnect delay, seen by a fresh
subscriber.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from appliance.ops.broker import LocalBroker
from tests.support import LightboxProcess, MQTTProbe

pytestmark = pytest.mark.integration

DISCOVERY = "homeassistant/device/lightbox_{}/config"


def decommission(engine: LightboxProcess) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "appliance", "decommission", "--settings",
                           str(engine.settings_path)], capture_output=True, text=True, timeout=60)


def retained(broker: LocalBroker, topic: str, wait_s: float = 1.0) -> bytes | None:
    """What a fresh subscriber gets retained on ``topic`` (None: nothing)."""
    p = MQTTProbe(broker, "homeassistant").connect()
    try:
        p.subscribe(topic, wait_s=wait_s)
        msgs = [m for m in p.messages if m.topic == topic and m.payload]
        return bytes(msgs[-1].payload) if msgs else None
    finally:
        p.close()


def test_decommission_refuses_while_the_engine_runs(
        broker: LocalBroker, engine_factory: Callable[..., LightboxProcess]) -> None:
    engine = engine_factory("decomlive")
    topic = DISCOVERY.format("decomlive")
    assert retained(broker, topic) is not None
    r = decommission(engine)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "is running" in r.stdout and "stop it first" in r.stdout.lower()
    assert "removed" not in r.stdout
    assert engine.alive() and retained(broker, topic) is not None


def test_decommission_after_stop_keeps_discovery_empty(
        broker: LocalBroker, engine_factory: Callable[..., LightboxProcess]) -> None:
    engine = engine_factory("decomgone")
    topic = DISCOVERY.format("decomgone")
    assert retained(broker, topic) is not None
    engine.stop()
    r = decommission(engine)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "removed decomgone" in r.stdout
    # Longer than the engine's reconnect delay (reconnect_max_s 2 in the test settings).
    time.sleep(engine.settings["mqtt"]["reconnect_max_s"] + 3)
    assert retained(broker, topic) is None
    assert retained(broker, "lightbox/decomgone/state") is None
