"""The engine over a real mosquitto: every command topic, replies, retained topics, LWT.

Each test starts `lightbox engine` as a subprocess on the virtual display against
the session broker (project config, auth and ACL on) and drives it with a real
MQTT client, exactly as Home Assistant or a script would.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from paho.mqtt.enums import MQTTProtocolVersion

from appliance.ops.broker import LocalBroker
from tests.support import LightboxProcess, MQTTProbe, decode, wait_until

pytestmark = pytest.mark.integration

Probe = Callable[..., MQTTProbe]
Factory = Callable[..., LightboxProcess]
BASE = "lightbox/it"


def metrics(p: MQTTProbe, pred: Callable[[dict[str, Any]], bool],
            timeout_s: float = 15) -> dict[str, Any]:
    return p.wait_for(f"{BASE}/metrics", pred, timeout_s=timeout_s, since=0)


def test_retained_topics_reach_a_fresh_subscriber(engine_factory: Factory, probe: Probe) -> None:
    engine_factory("it")
    p = probe().subscribe(f"{BASE}/#", "homeassistant/device/lightbox_it/config", wait_s=0)
    for name in ("status", "state", "animations", "info", "config"):
        p.wait_for(f"{BASE}/{name}", timeout_s=10)
    health = p.wait_for(f"{BASE}/health", timeout_s=10)
    assert health["status"] in ("ok", "degraded")
    assert set(health["checks"]) == {"render", "display", "mqtt", "config", "system"}
    assert health["ts"].endswith("Z")
    state = p.last(f"{BASE}/state")
    assert state["state"] == "ON" and 1 <= state["brightness"] <= 100
    assert state["color_mode"] == "brightness" and isinstance(state["version"], int)
    catalogue = p.last(f"{BASE}/animations")
    assert {"plasma", "breathe"} <= {a["name"] for a in catalogue}
    plasma = next(a for a in catalogue if a["name"] == "plasma")
    assert {"name", "type", "min", "max", "default", "help"} <= set(plasma["params"][0])
    info = p.last(f"{BASE}/info")
    assert info["display"]["width"] == 64 and info["display"]["height"] == 32
    m = metrics(p, lambda m: m["frames_total"] > 0)
    for key in ("fps", "target_fps", "frame_ms_p50", "frame_ms_p99", "frames_total",
                "frames_dropped", "animation_errors_total", "recoveries_total",
                "commands_total", "commands_rejected_total", "cpu_percent", "rss_mb",
                "cpu_temp_c", "throttled", "uptime_s", "boot_time"):
        assert key in m, key
    p.wait_for("homeassistant/device/lightbox_it/config")
    # A subscriber arriving now gets every one of them as a retained message.
    fresh = probe("homeassistant").subscribe(f"{BASE}/#", "homeassistant/device/#", wait_s=1.0)
    retained = {m.topic for m in fresh.messages if m.retain}
    assert {f"{BASE}/{n}" for n in ("status", "state", "animations", "info", "config",
                                    "health", "metrics")} <= retained
    assert "homeassistant/device/lightbox_it/config" in retained


def test_every_command_topic_over_mqtt5_with_replies(engine_factory: Factory,
                                                     probe: Probe) -> None:
    engine_factory("it")
    p = probe().subscribe(f"{BASE}/state", f"{BASE}/preview")

    r = p.request(f"{BASE}/cmd/animation", {"name": "solid", "params": {"color": "#00ff00"}})
    assert r["ok"] is True and r["state"]["effect"] == "solid"
    assert r["state"]["params"] == {"color": "#00ff00"}
    r = p.request(f"{BASE}/cmd/params", {"color": "#0000ff"})
    assert r["state"]["params"]["color"] == "#0000ff"
    r = p.request(f"{BASE}/cmd/brightness", 42)
    assert r["state"]["brightness"] == 42
    r = p.request(f"{BASE}/cmd/power", "OFF")
    assert r["state"]["state"] == "OFF"
    r = p.request(f"{BASE}/cmd/power", "TOGGLE")
    assert r["state"]["state"] == "ON"
    r = p.request(f"{BASE}/cmd/power", {"state": "off"})  # any case
    assert r["state"]["state"] == "OFF"
    r = p.request(f"{BASE}/cmd/power", "on")
    assert r["state"]["state"] == "ON"
    r = p.request(f"{BASE}/set", {"state": "ON", "brightness": 60, "effect": "plasma",
                                  "transition": 2})
    assert (r["state"]["brightness"], r["state"]["effect"]) == (60, "plasma")
    r = p.request(f"{BASE}/cmd/identify", {"seconds": 1})
    assert r["ok"] is True
    r = p.request(f"{BASE}/cmd/config", {"display": {"brightness": 55}})
    assert r["ok"] is True and r["changes"][0]["path"] == "display.brightness"
    r = p.request(f"{BASE}/cmd/reload", "")
    assert r["ok"] is True
    mark = p.mark()
    r = p.request(f"{BASE}/cmd/preview", {"fps": 10, "ttl_s": 2})
    assert r["ok"] is True
    frame = p.wait_for(f"{BASE}/preview", lambda v: isinstance(v, bytes | str), since=mark)
    raw = frame if isinstance(frame, bytes) else frame.encode("latin-1")
    assert len(raw) == 64 * 32 * 3
    # The retained state follows every change; the version only goes up.
    p.wait_for(f"{BASE}/state", lambda s: s["brightness"] == 55)
    versions = [json.loads(m.payload)["version"] for m in p.messages
                if m.topic == f"{BASE}/state"]
    assert versions == sorted(versions) and versions[-1] >= 7  # never goes back


def test_bad_commands_get_errors_and_change_nothing(engine_factory: Factory,
                                                    probe: Probe) -> None:
    engine_factory("it")
    p = probe().subscribe(f"{BASE}/state", f"{BASE}/events")
    before = p.wait_for(f"{BASE}/state")
    r = p.request(f"{BASE}/cmd/animation", {"name": "plasma", "params": {"speed": 99}})
    assert r == {"ok": False, "error": {"code": "invalid_param",
                                        "message": r["error"]["message"],
                                        "field": "params.speed"}}
    assert r["error"]["message"] == "speed: 99.0 is out of range 0.1..5"
    r = p.request(f"{BASE}/cmd/animation", {"name": "nope"})
    assert r["error"]["code"] == "unknown_animation" and "plasma" in r["error"]["message"]
    r = p.request(f"{BASE}/set", {"state": "ON", "brigthness": 5})
    assert r["error"] == {"code": "unknown_field", "message": "unknown key 'brigthness'",
                          "field": "brigthness"}
    r = p.request(f"{BASE}/cmd/config", {"display": {"fps": "fast"}})
    assert r["error"]["code"] == "invalid_settings" and r["error"]["field"] == "display.fps"
    ev = p.wait_for(f"{BASE}/events", lambda e: e.get("event") == "command_rejected")
    assert ev["code"] and ev["ts"]
    p.wait_for(f"{BASE}/events", lambda e: e.get("event") == "config_rejected")
    time.sleep(0.3)
    after = p.last(f"{BASE}/state")
    assert after == before


MALFORMED = [b"", b"\xff\xfe\x00", b"{", b"[]", b"null", b"true", b"1e999", b'"x"' * 1000,
             b'{"transaction": {"a": 1}}', b'{"name": 5}', b'{"brightness": "5"}',
             b'{"state": ["ON"]}', b"NaN", b'{"params": {"speed": Infinity}}',
             b"-1", b"101", b'{"fps": -3}', b'{"seconds": 0}', b'{"display": []}',
             b'{"' + b"a" * 5000 + b'": 1}', bytes(range(256))]
ACTIONS = ["set", "cmd/animation", "cmd/brightness", "cmd/power", "cmd/params", "cmd/config",
           "cmd/identify", "cmd/preview"]


def test_malformed_payloads_on_every_topic_are_counted_not_fatal(
        engine_factory: Factory, probe: Probe) -> None:
    eng = engine_factory("it")
    p = probe().subscribe(f"{BASE}/state", f"{BASE}/metrics")
    before = p.wait_for(f"{BASE}/state")
    start = metrics(p, lambda m: True)
    sent = 0
    for action in ACTIONS:
        for payload in MALFORMED:
            p.publish(f"{BASE}/{action}", payload)
            sent += 1
    m = metrics(p, lambda m: m["commands_total"] - start["commands_total"] >= sent,
                timeout_s=20)
    rejected = m["commands_rejected_total"] - start["commands_rejected_total"]
    # Exactly four are valid by design (identify and preview with an empty or JSON null
    # payload use their defaults); every other one is rejected and counted.
    assert rejected == sent - 4
    assert eng.alive()
    after = p.last(f"{BASE}/state")
    assert {k: after[k] for k in ("effect", "brightness", "params")} == {
        k: before[k] for k in ("effect", "brightness", "params")}
    assert "Traceback" not in eng.log()


def test_a_burst_of_5000_commands_keeps_the_engine_alive_and_the_last_value_wins(
        engine_factory: Factory, probe: Probe) -> None:
    eng = engine_factory("it")
    p = probe().subscribe(f"{BASE}/state")
    for i in range(5000):
        p.client.publish(f"{BASE}/cmd/brightness", str(i % 50 + 1), qos=0)
    p.publish(f"{BASE}/cmd/brightness", "77")  # qos 1, in order after the burst, not in it
    p.wait_for(f"{BASE}/state", lambda s: s["brightness"] == 77, timeout_s=20)
    time.sleep(0.5)
    assert p.last(f"{BASE}/state")["brightness"] == 77
    assert eng.alive()


def test_transaction_replies_on_the_response_topic_for_mqtt311_clients(
        engine_factory: Factory, probe: Probe) -> None:
    engine_factory("it")
    p = probe(protocol=MQTTProtocolVersion.MQTTv311).subscribe(f"{BASE}/response")
    p.publish(f"{BASE}/cmd/brightness", {"brightness": 33, "transaction": "abc"})
    ok = p.wait_for(f"{BASE}/response", lambda r: r.get("transaction") == "abc")
    assert ok["ok"] is True and ok["state"]["brightness"] == 33
    p.publish(f"{BASE}/cmd/brightness", {"brightness": 333, "transaction": 9})
    bad = p.wait_for(f"{BASE}/response", lambda r: r.get("transaction") == 9)
    assert bad["ok"] is False and bad["error"]["field"] == "brightness"


def test_sigkill_leaves_the_last_will_and_sigterm_says_offline_and_darkens(
        engine_factory: Factory, probe: Probe) -> None:
    eng = engine_factory("it")
    p = probe().subscribe(f"{BASE}/status")
    p.publish(f"{BASE}/cmd/animation", {"name": "solid", "params": {"color": "#ffffff"}})
    wait_until(lambda: (f := eng.panel()) is not None and f.all(), message="white panel")
    mark = p.mark()
    t0 = time.monotonic()
    eng.signal(signal.SIGTERM)
    assert eng.process is not None
    assert eng.process.wait(10) == 0
    stop_s = time.monotonic() - t0
    assert p.wait_for(f"{BASE}/status", lambda v: v == "offline", since=mark) == "offline"
    panel = eng.panel()
    assert panel is not None and not np.any(panel)
    assert stop_s < 5  # generous; the measured figure is reported by the fault suite

    eng2 = engine_factory("it")
    p.wait_for(f"{BASE}/status", lambda v: v == "online", since=mark)
    mark = p.mark()
    eng2.kill()
    # keepalive_s 30 -> the broker declares it gone within 1.5 x keepalive at most,
    # but a killed process closes its socket at once, so the will is sent right away.
    assert p.wait_for(f"{BASE}/status", lambda v: v == "offline", since=mark,
                      timeout_s=50) == "offline"


def test_engine_renders_through_a_broker_restart_and_republishes(
        engine_factory: Factory, own_broker: LocalBroker, probe: Probe) -> None:
    eng = engine_factory("it", b=own_broker)
    own_broker.kill()
    time.sleep(1.5)
    frames_before = eng.panel()
    own_broker.start()
    p = probe(b=own_broker).subscribe(f"{BASE}/#", wait_s=0)
    p.wait_for(f"{BASE}/status", lambda v: v == "online", timeout_s=20)
    for name in ("state", "animations", "info", "health", "metrics"):
        p.wait_for(f"{BASE}/{name}", timeout_s=20)
    # The first metrics after the reconnect may be one queued while offline, or from a
    # window too young for an fps figure: wait for one that shows the loop rendering.
    m = p.wait_for(f"{BASE}/metrics", lambda m: m["frames_total"] > 0 and m["fps"] > 0,
                   timeout_s=30)
    assert eng.alive() and frames_before is not None
    r = p.request(f"{BASE}/cmd/brightness", 21)
    assert r["ok"] and r["state"]["brightness"] == 21
    health = p.wait_for(f"{BASE}/health", lambda h: h["checks"]["mqtt"]["reconnects"] >= 1)
    assert health["checks"]["mqtt"]["connected"] is True
    assert m["fps"] > 0


def test_fleet_topics_reach_all_and_groups(engine_factory: Factory, probe: Probe) -> None:
    engine_factory("kitchen", mqtt={"groups": ["downstairs"]})
    engine_factory("attic", mqtt={"groups": ["upstairs"]})
    p = probe().subscribe("lightbox/kitchen/state", "lightbox/attic/state")
    p.publish("lightbox/all/cmd/animation", "breathe")
    for dev in ("kitchen", "attic"):
        p.wait_for(f"lightbox/{dev}/state", lambda s: s["effect"] == "breathe")
    p.publish("lightbox/group/upstairs/cmd/brightness", "12")
    p.wait_for("lightbox/attic/state", lambda s: s["brightness"] == 12)
    time.sleep(0.5)
    assert p.last("lightbox/kitchen/state")["brightness"] != 12


def test_acl_monitor_cannot_command_and_anonymous_is_refused(
        broker: LocalBroker, engine_factory: Factory, probe: Probe) -> None:
    engine_factory("it")
    watcher = probe().subscribe(f"{BASE}/state")
    before = watcher.wait_for(f"{BASE}/state")
    monitor = probe("lightbox-monitor").subscribe(f"{BASE}/health", wait_s=0)
    assert monitor.wait_for(f"{BASE}/health")["status"]
    info = monitor.client.publish(f"{BASE}/cmd/brightness", "3", qos=1)
    info.wait_for_publish(5)
    time.sleep(0.5)
    assert watcher.last(f"{BASE}/state")["brightness"] == before["brightness"]
    with pytest.raises(ConnectionRefusedError):
        MQTTProbe(broker, "anonymous-nobody", password="").connect()
    with pytest.raises(ConnectionRefusedError):
        MQTTProbe(broker, "homeassistant", password="wrong").connect()


def test_retained_commands_are_never_obeyed(engine_factory: Factory, probe: Probe) -> None:
    p = probe()
    p.publish(f"{BASE}/cmd/brightness", "9", retain=True)
    try:
        eng = engine_factory("it")
        p.subscribe(f"{BASE}/state")
        state = p.wait_for(f"{BASE}/state")
        assert state["brightness"] != 9
        assert "retained_command_ignored" in eng.log()
    finally:
        p.publish(f"{BASE}/cmd/brightness", b"", retain=True)


def test_a_command_published_retained_to_a_running_engine_is_refused(
        engine_factory: Factory, probe: Probe) -> None:
    """Live delivery drops the retain flag unless the engine subscribes retain-as-published:
    then a retained command was obeyed. It must be refused with a warning and an event,
    and clearing it (an empty retained message) must pass without command_rejected."""
    eng = engine_factory("it")
    p = probe().subscribe(f"{BASE}/state", f"{BASE}/events")
    before = p.wait_for(f"{BASE}/state")["brightness"]
    mark = p.mark()
    try:
        p.publish(f"{BASE}/cmd/brightness", "9", retain=True)
        ev = p.wait_for(f"{BASE}/events", lambda e: e.get("event") == "retained_command_ignored",
                        since=mark)
        assert ev["topic"] == f"{BASE}/cmd/brightness"
    finally:
        p.publish(f"{BASE}/cmd/brightness", b"", retain=True)
    # A plain command after both: once its reply is in, the two before it were handled.
    r = p.request(f"{BASE}/cmd/brightness", 33 if before != 33 else 34)
    assert r["ok"] and r["state"]["brightness"] in (33, 34)
    assert all(s.get("brightness") != 9 for s in _payloads(p, f"{BASE}/state", mark))
    events = [e.get("event") for e in _payloads(p, f"{BASE}/events", mark)]
    assert "command_rejected" not in events, events
    assert "retained_command_ignored" in eng.log()
    assert "command_rejected" not in eng.log()


def _payloads(p: MQTTProbe, topic: str, since: int) -> list[Any]:
    return [decode(m.payload) for m in p.messages[since:] if m.topic == topic]


def test_check_config_messages_reach_the_log_and_exit_78(
        tmp_path: Any, broker: LocalBroker) -> None:
    from tests.support import engine_settings

    proc = LightboxProcess("engine", tmp_path / "bad", engine_settings(broker, "bad"))
    proc.workdir.mkdir(parents=True)
    proc.settings_path.write_text(json.dumps({"display": {"fps": "fast"}}))
    proc.start()
    assert proc.process is not None
    assert proc.process.wait(20) == 78
    assert "display.fps" in proc.log()


def test_restart_required_clears_when_a_value_is_set_back(engine_factory: Factory,
                                                         probe: Probe) -> None:
    """restart_required is measured against the settings the process started with."""
    engine_factory("it")
    p = probe().subscribe(f"{BASE}/config")
    rows = p.wait_for(f"{BASE}/config")["settings"]["display"]["rows"]
    other = 64 if rows != 64 else 32
    r = p.request(f"{BASE}/cmd/config", {"display": {"rows": other}})
    assert r["ok"] is True and r["restart_required"] == ["display.rows"]
    p.wait_for(f"{BASE}/config", lambda c: c["restart_required"] == ["display.rows"])
    r = p.request(f"{BASE}/cmd/config", {"display": {"rows": rows, "brightness": 41}})
    assert r["ok"] is True
    p.wait_for(f"{BASE}/config", lambda c: c["restart_required"] == []
               and c["settings"]["display"]["brightness"] == 41)
