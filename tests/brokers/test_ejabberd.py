"""The integration core against ejabberd's MQTT 5 broker (mod_mqtt) instead of mosquitto.

Commands with replies (MQTT 5 Response Topic + Correlation Data), retained
topics, the ACL, the Last Will after SIGKILL, group commands, and the engine
riding through a broker restart, each with a real `lightbox engine` logged in as
``<device_id>@localhost``. Run by ``scripts/test-brokers`` (not the default
run). What differs from mosquitto is written in docs/deployment.md ("Other
brokers") and asserted here where it is a property of the broker.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from appliance.testing import LightboxProcess, MQTTProbe, wait_until
from tests.brokers.ejabberd import Ejabberd

pytestmark = [pytest.mark.ejabberd, pytest.mark.integration]

Probe = Callable[..., MQTTProbe]
Engine = Callable[..., LightboxProcess]
DEV = "eja"
BASE = f"lightbox/{DEV}"


def online(p: MQTTProbe, eng: LightboxProcess, base: str = BASE, since: int = 0) -> None:
    """Wait for ``online`` on the box's status, with its log when it does not come."""
    try:
        p.wait_for(f"{base}/status", lambda v: v == "online", timeout_s=30, since=since)
    except TimeoutError:
        raise AssertionError(f"engine did not come online:\n{eng.log_tail()}") from None


@pytest.mark.parametrize("login", ["eja@localhost", "eja"])
def test_retained_topics_and_discovery_reach_a_fresh_subscriber(
        ejabberd: Ejabberd, eengine: Engine, eprobe: Probe, login: str) -> None:
    # mod_mqtt takes a bare user name as a user of its first host: the engine may log
    # in as its device id alone, as with mosquitto (then `lightbox diagnose` is quiet).
    eng = eengine(DEV, mqtt={"username": login,
                             "password_file": str(ejabberd.password_file(DEV))})
    p = eprobe().subscribe(f"{BASE}/#", f"homeassistant/device/lightbox_{DEV}/config", wait_s=0)
    online(p, eng)
    for name in ("state", "animations", "info", "config", "health"):
        p.wait_for(f"{BASE}/{name}", timeout_s=20)
    p.wait_for(f"homeassistant/device/lightbox_{DEV}/config", timeout_s=20)
    fresh = eprobe().subscribe(f"{BASE}/#", "homeassistant/device/#", wait_s=1.5)
    retained = {m.topic for m in fresh.messages if m.retain}
    assert {f"{BASE}/{n}" for n in ("status", "state", "animations", "info", "config",
                                    "health")} <= retained
    assert f"homeassistant/device/lightbox_{DEV}/config" in retained
    # Live (not retained-on-subscribe) copies arrive with retain cleared, as MQTT says
    # without retain_as_published; the engine never relies on the flag it receives.
    live = p.mark()
    p.request(f"{BASE}/cmd/brightness", 44)
    st = p.wait_for(f"{BASE}/state", lambda s: s["brightness"] == 44, since=live)
    assert st["brightness"] == 44


def test_commands_get_replies_on_the_response_topic_with_correlation_data(
        eengine: Engine, eprobe: Probe) -> None:
    eng = eengine(DEV)
    p = eprobe().subscribe(f"{BASE}/status", f"{BASE}/state", wait_s=0)
    online(p, eng)
    # MQTTProbe.request only takes a reply that carries our Correlation Data back.
    r = p.request(f"{BASE}/cmd/animation", {"name": "solid", "params": {"color": "#00ff00"}},
                  timeout_s=10)
    assert r["ok"] is True and r["state"]["effect"] == "solid"
    r = p.request(f"{BASE}/cmd/brightness", 42, timeout_s=10)
    assert r["state"]["brightness"] == 42
    r = p.request(f"{BASE}/cmd/power", "OFF", timeout_s=10)
    assert r["state"]["state"] == "OFF"
    r = p.request(f"{BASE}/set", {"state": "ON", "brightness": 60, "effect": "plasma"},
                  timeout_s=10)
    assert (r["state"]["state"], r["state"]["brightness"]) == ("ON", 60)
    r = p.request(f"{BASE}/cmd/animation", {"name": "nope"}, timeout_s=10)
    assert r["ok"] is False and r["error"]["code"] == "unknown_animation"
    p.wait_for(f"{BASE}/state", lambda s: s["effect"] == "plasma")


def test_mqtt311_clients_get_transaction_replies(eengine: Engine, eprobe: Probe) -> None:
    eng = eengine(DEV)
    p = eprobe(protocol=MQTTProtocolVersion.MQTTv311).subscribe(
        f"{BASE}/status", f"{BASE}/response", wait_s=0)
    online(p, eng)
    p.publish(f"{BASE}/cmd/brightness", {"brightness": 33, "transaction": "abc"})
    ok = p.wait_for(f"{BASE}/response", lambda r: r.get("transaction") == "abc", timeout_s=15)
    assert ok["ok"] is True and ok["state"]["brightness"] == 33


def test_acl_monitor_cannot_command_and_anonymous_is_refused(
        ejabberd: Ejabberd, eengine: Engine, eprobe: Probe) -> None:
    eng = eengine(DEV)
    p = eprobe().subscribe(f"{BASE}/status", f"{BASE}/state", wait_s=0)
    online(p, eng)
    before = p.request(f"{BASE}/cmd/brightness", 17, timeout_s=10)["state"]["brightness"]
    monitor = eprobe("lightbox-monitor").subscribe(f"{BASE}/health", wait_s=0)
    monitor.wait_for(f"{BASE}/health", timeout_s=20)  # it may read what it should
    monitor.publish(f"{BASE}/cmd/brightness", "88")  # mod_mqtt refuses it (PUBACK 0x90)
    time.sleep(1.0)
    assert p.last(f"{BASE}/state")["brightness"] == before
    anon = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="anon-x",
                       protocol=MQTTProtocolVersion.MQTTv5)
    codes: list[object] = []
    anon.on_connect = lambda c, u, f, rc, pr: codes.append(rc)
    anon.connect(ejabberd.host, ejabberd.port)
    anon.loop_start()
    try:
        wait_until(lambda: bool(codes), timeout_s=10, message="CONNACK to anonymous")
    finally:
        anon.loop_stop()
    assert getattr(codes[0], "is_failure", False), codes


def test_group_and_all_commands_reach_boxes(eengine: Engine, eprobe: Probe) -> None:
    a = eengine("ejk", mqtt={"groups": ["down"]})
    b = eengine("eju", mqtt={"groups": ["up"]})
    p = eprobe().subscribe("lightbox/ejk/status", "lightbox/eju/status", "lightbox/ejk/state",
                           "lightbox/eju/state", wait_s=0)
    online(p, a, "lightbox/ejk")
    online(p, b, "lightbox/eju")
    p.publish("lightbox/all/cmd/animation", "breathe")
    for dev in ("ejk", "eju"):
        p.wait_for(f"lightbox/{dev}/state", lambda s: s["effect"] == "breathe", timeout_s=15)
    p.publish("lightbox/group/up/cmd/brightness", "12")
    p.wait_for("lightbox/eju/state", lambda s: s["brightness"] == 12, timeout_s=15)
    time.sleep(0.5)
    assert p.last("lightbox/ejk/state")["brightness"] != 12


def test_sigterm_says_offline_and_sigkill_leaves_the_last_will(
        eengine: Engine, eprobe: Probe) -> None:
    eng = eengine(DEV)
    p = eprobe().subscribe(f"{BASE}/status", wait_s=0)
    online(p, eng)
    mark = p.mark()
    eng.signal(signal.SIGTERM)
    assert eng.process is not None and eng.process.wait(15) == 0
    p.wait_for(f"{BASE}/status", lambda v: v == "offline", since=mark, timeout_s=10)
    eng2 = eengine(DEV)
    online(p, eng2, since=mark)
    mark = p.mark()
    eng2.kill()
    # The socket closes at once, so the broker sends the will without waiting out keepalive.
    assert p.wait_for(f"{BASE}/status", lambda v: v == "offline", since=mark,
                      timeout_s=50) == "offline"


def test_engine_rides_through_a_broker_crash_and_republishes(
        ejabberd: Ejabberd, eengine: Engine, eprobe: Probe) -> None:
    """Last in the module: it kills the shared node (SIGKILL) and starts it again."""
    eng = eengine(DEV)
    p = eprobe().subscribe(f"{BASE}/status", wait_s=0)
    online(p, eng)
    p.close()
    ejabberd.kill()
    time.sleep(1.5)
    ejabberd.start()
    q = eprobe().subscribe(f"{BASE}/#", wait_s=0)
    q.wait_for(f"{BASE}/status", lambda v: v == "online", timeout_s=40)
    for name in ("state", "health", "metrics"):
        q.wait_for(f"{BASE}/{name}", timeout_s=30)
    r = q.request(f"{BASE}/cmd/brightness", 21, timeout_s=10)
    assert r["ok"] and r["state"]["brightness"] == 21
    health = q.wait_for(f"{BASE}/health", lambda h: h["checks"]["mqtt"]["reconnects"] >= 1,
                        timeout_s=30)
    assert health["checks"]["mqtt"]["connected"] is True and eng.alive()
