"""A two-node ejabberd cluster on this machine: boxes on both nodes, commands from one.

What a fleet that outgrows one mosquitto moves to: one MQTT 5 broker spread over
nodes. Node B joins node A's cluster (``ejabberdctl join_cluster``); one box logs
in to each node, Home Assistant to node A only. A command to ``all`` and a
``group`` command with ``start_at`` must reach both, each box's retained state
must reach a subscriber on the other node, and replies must come back across
nodes. Run by ``scripts/test-brokers`` (not the default run).

Known gap (ejabberd 23.01, Debian 12): a retained message published through one
node reaches new subscribers on that node only, until the other node restarts:
mod_mqtt keeps its index of retained topics in a per-node ETS table, built from
the shared mnesia table at start. ``test_retained_crosses_nodes`` records it as
an expected failure (it passes, XPASS, on an ejabberd that fixes it).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.testing import LightboxProcess, MQTTProbe, engine_settings
from tests.brokers.conftest import as_broker
from tests.brokers.ejabberd import Ejabberd, EjabberdError, available

pytestmark = [pytest.mark.ejabberd, pytest.mark.integration]


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[Ejabberd, Ejabberd]]:
    """Nodes A and B, B joined to A, each with its own port and spool."""
    if not available():
        pytest.fail("ejabberd is not installed (apt-get install ejabberd) or this is not root",
                    pytrace=False)
    a, b = Ejabberd("lbca"), Ejabberd("lbcb")
    try:
        a.start()
        b.start()
        b.join(a)
        a.add_user("homeassistant")
    except EjabberdError as exc:
        b.cleanup()
        a.cleanup()
        pytest.fail(str(exc), pytrace=False)
    yield a, b
    b.cleanup()
    a.cleanup()


def engine_on(node: Ejabberd, device_id: str, workdir: Path) -> LightboxProcess:
    settings = engine_settings(as_broker(node), device_id, mqtt={"groups": ["both"]})
    return LightboxProcess("engine", workdir / device_id, settings).start()


def test_commands_reach_boxes_on_both_nodes_and_state_crosses_back(
        cluster: tuple[Ejabberd, Ejabberd], tmp_path: Path) -> None:
    a, b = cluster
    engines = [engine_on(a, "cla", tmp_path), engine_on(b, "clb", tmp_path)]
    ha = MQTTProbe(as_broker(a), a.add_user("homeassistant")).connect()
    try:
        ha.subscribe("lightbox/+/status", "lightbox/+/state", wait_s=0)
        for dev, eng in zip(("cla", "clb"), engines, strict=True):
            try:
                ha.wait_for(f"lightbox/{dev}/status", lambda v: v == "online", timeout_s=40)
            except TimeoutError:
                raise AssertionError(f"{dev} not online:\n{eng.log_tail()}") from None
        ha.publish("lightbox/all/cmd/animation", "breathe")
        for dev in ("cla", "clb"):
            ha.wait_for(f"lightbox/{dev}/state", lambda s: s["effect"] == "breathe",
                        timeout_s=20)
        start_at = time.time() + 2.0
        ha.publish("lightbox/group/both/cmd/animation",
                   {"name": "solid", "params": {"color": "#ff0000"}, "start_at": start_at})
        started = [ha.wait_for(f"lightbox/{dev}/state", lambda s: s["effect"] == "solid",
                               timeout_s=20)["started_at"] for dev in ("cla", "clb")]
        assert started[0] == pytest.approx(started[1], abs=0.001)
        # A reply to a request made on node A by the box on node B comes back across.
        r = ha.request("lightbox/clb/cmd/brightness", 23, timeout_s=15)
        assert r["ok"] is True and r["state"]["brightness"] == 23
        # Retained state written through node B reaches a fresh subscriber on node B.
        fresh = MQTTProbe(as_broker(b), "homeassistant@localhost",
                          password=a.passwords["homeassistant@localhost"]).connect()
        try:
            fresh.subscribe("lightbox/clb/state", wait_s=1.5)
            assert any(m.retain for m in fresh.messages), [m.topic for m in fresh.messages]
        finally:
            fresh.close()
    finally:
        ha.close()
        for eng in engines:
            eng.stop()


@pytest.mark.xfail(reason="ejabberd 23.01: mod_mqtt's retained-topic index is per node",
                   strict=False)
def test_retained_crosses_nodes(cluster: tuple[Ejabberd, Ejabberd]) -> None:
    a, b = cluster
    user = a.add_user("homeassistant")
    pw = a.passwords[user]
    writer = MQTTProbe(as_broker(b), user, password=pw).connect()
    reader = MQTTProbe(as_broker(a), user, password=pw).connect()
    try:
        writer.publish("homeassistant/lightbox_test/keep", "kept", retain=True)
        reader.subscribe("homeassistant/lightbox_test/keep", wait_s=1.5)
        assert [m.payload for m in reader.messages if m.retain] == [b"kept"]
    finally:
        writer.publish("homeassistant/lightbox_test/keep", "", retain=True)
        writer.close()
        reader.close()
