"""The bridge believes only retained messages on the engine's retained topics.

A stray non-retained ``offline`` on ``<base>/status`` (or a reply some client
steered there) must not make the bridge refuse every write. The bridge
subscribes with MQTT 5 retain-as-published, so a retained update delivered live
keeps its retain flag and still counts. Real engine, real bridge on waitress,
real mosquitto with the shipped ACL.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from appliance.ops.broker import LocalBroker
from tests.bridge.conftest import Stack
from tests.support import MQTTProbe, wait_until

pytestmark = pytest.mark.integration


def info_marker(s: Stack, p: MQTTProbe) -> None:
    """Publish a retained ``info`` with a marker and wait until the bridge serves it.

    Sent after the message under test, so once the bridge shows the marker it has
    already handled that message (mosquitto delivers in order).
    """
    info = s.get("/api/info").json()
    marker = uuid.uuid4().hex
    p.publish(f"{s.base}/info", {**info, "marker": marker}, retain=True)
    wait_until(lambda: s.get("/api/info").json().get("marker") == marker, 10,
               message="bridge saw the marker")


def assert_serving(s: Stack) -> None:
    """Health is 200, the bridge says online and a write goes through."""
    r = s.get("/api/health")
    assert r.status_code == 200, r.json()
    assert r.json()["checks"]["engine_online"]["status"] == "online"
    w = s.post("/api/brightness", {"brightness": 44})
    assert w.status_code == 200, w.json()


def test_a_non_retained_offline_on_status_is_ignored(
        stack_factory: Callable[..., Stack], broker: LocalBroker) -> None:
    s = stack_factory("nr")
    # The engine's user may write <base>/status; a non-retained message is not a status.
    p = MQTTProbe(broker, broker.add_device(s.base.rsplit("/", 1)[-1])).connect()
    try:
        p.publish(f"{s.base}/status", "offline", retain=False)
        p.publish(f"{s.base}/health", {"status": "failed"}, retain=False)
        info_marker(s, p)
        assert_serving(s)
    finally:
        p.close()


def test_a_retained_update_delivered_live_still_counts(
        stack_factory: Callable[..., Stack], broker: LocalBroker) -> None:
    s = stack_factory("ret")
    p = MQTTProbe(broker, broker.add_device(s.base.rsplit("/", 1)[-1])).connect()
    try:
        p.publish(f"{s.base}/status", "offline", retain=True)
        wait_until(lambda: s.get("/api/health").status_code == 503, 10, message="health 503")
        r = s.post("/api/brightness", {"brightness": 45})
        assert r.status_code == 503 and r.json()["error"]["code"] == "engine_offline"
        p.publish(f"{s.base}/status", "online", retain=True)
        wait_until(lambda: s.get("/api/health").status_code == 200, 10, message="health 200")
        assert_serving(s)
    finally:
        p.close()


def test_a_reply_steered_onto_status_cannot_take_the_bridge_offline(
        stack_factory: Callable[..., Stack], broker: LocalBroker) -> None:
    s = stack_factory("steer")
    ha = MQTTProbe(broker, "homeassistant").connect()
    engine_user = MQTTProbe(broker, broker.add_device(s.base.rsplit("/", 1)[-1])).connect()
    try:
        ha.subscribe(f"{s.base}/response")
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = f"{s.base}/status"
        props.CorrelationData = b"x"
        ha.publish(f"{s.base}/cmd/identify", {"seconds": 1, "transaction": "t"},
                   properties=props)
        ha.wait_for(f"{s.base}/response", lambda r: r.get("transaction") == "t")
        info_marker(s, engine_user)
        assert_serving(s)
    finally:
        ha.close()
        engine_user.close()
