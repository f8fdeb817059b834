"""Broker faults: killed and restarted while rendering, down at start-up, refusing credentials.

The engine must render on (frame gaps measured by the engine itself), reconnect
with back-off, republish every retained topic and the discovery document after
each return, and retry a refused login slowly, saying clearly why.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from appliance.ops.broker import LocalBroker
from tests.faults.conftest import (
    LOADED_GAP_LIMIT_MS,
    assert_loop_kept_pace,
    fresh_metrics,
    log_events,
    report_figure,
    watch,
)
from tests.soak.broker_kills import BUDGET_MS, cpu_load, kill_cycles
from tests.support import LightboxProcess, MQTTProbe, wait_until

Factory = Callable[..., LightboxProcess]
RETAINED = ("status", "state", "animations", "health", "metrics", "info", "config")


def _all_retained_back(broker: LocalBroker, dev: str, want_state: dict[str, Any],
                       timeout_s: float = 10.0) -> tuple[float, MQTTProbe]:
    t0 = time.monotonic()
    p = watch(broker, dev)
    p.wait_for(f"lightbox/{dev}/status", lambda v: v == "online", timeout_s=timeout_s)
    for name in RETAINED:
        left = max(0.1, timeout_s - (time.monotonic() - t0))
        p.wait_for(f"lightbox/{dev}/{name}", timeout_s=left)
    p.wait_for(f"homeassistant/device/lightbox_{dev}/config",
               timeout_s=max(0.1, timeout_s - (time.monotonic() - t0)))
    state = p.last(f"lightbox/{dev}/state")
    for key, value in want_state.items():
        assert state[key] == value, (key, state)
    return time.monotonic() - t0, p


#: Kills in CI (the 100-kill runs: `python -m tests.soak.broker_kills --kills 100 [--load 2]`).
KILLS = int(os.environ.get("LIGHTBOX_BROKER_KILLS", "25"))
KILLS_UNDER_LOAD = int(os.environ.get("LIGHTBOX_BROKER_KILLS_UNDER_LOAD", "20"))
#: LOADED_GAP_LIMIT_MS (8 frame budgets): under CPU load from other processes the OS may
#: keep the loop waiting a few frames; a loop that blocks (297 ms seen in CI) fails it.


def _killed_many_times(eng: LightboxProcess, broker: LocalBroker, dev: str,
                       kills: int) -> dict[str, Any]:
    p = watch(broker, dev)
    try:
        p.request(f"lightbox/{dev}/cmd/animation",
                  {"name": "solid", "params": {"color": "#ff8800"}})
        p.request(f"lightbox/{dev}/cmd/brightness", 42)
    finally:
        p.close()
    want = {"effect": "solid", "brightness": 42, "state": "ON"}
    report = kill_cycles(eng, broker, dev, kills, want_state=want)
    assert report["back_within_s_max"] < 10.0, report["back_within_s"]
    assert eng.alive()
    return report


def test_broker_killed_and_restarted_many_times(engine_factory: Factory,
                                                own_broker: LocalBroker) -> None:
    dev = "bk"
    eng = engine_factory(dev, b=own_broker)
    r = _killed_many_times(eng, own_broker, dev, KILLS)
    report_figure(f"broker_restart_x{KILLS}", **{k: v for k, v in r.items()
                                                  if k != "worst_gap_per_kill_ms"})
    if r["load_avg_1min"] < (r["cpus"] or 1):
        # The target, on a machine that is not overloaded; and the frame before a gap (if
        # any) is never slow: the render thread never waits on the link.
        assert r["worst_gap_ms"] < 100.0, r
        assert all(e["frame_ms"] <= 2 * BUDGET_MS for e in r["gap_events"]), r["gap_events"]
    else:
        assert r["worst_gap_ms"] < LOADED_GAP_LIMIT_MS, r


def test_broker_killed_and_restarted_under_cpu_load(engine_factory: Factory,
                                                    own_broker: LocalBroker) -> None:
    dev = "bkload"
    eng = engine_factory(dev, b=own_broker)
    with cpu_load(os.cpu_count() or 1):
        r = _killed_many_times(eng, own_broker, dev, KILLS_UNDER_LOAD)
    report_figure(f"broker_restart_x{KILLS_UNDER_LOAD}_under_load",
                  **{k: v for k, v in r.items() if k != "worst_gap_per_kill_ms"})
    assert r["worst_gap_ms"] < LOADED_GAP_LIMIT_MS, r


def test_broker_down_at_start_up(engine_factory: Factory, own_broker: LocalBroker) -> None:
    dev = "bdown"
    own_broker.stop()
    eng = engine_factory(dev, b=own_broker, wait_online=False,
                         mqtt={"max_queued_messages": 10})
    time.sleep(5.0)
    assert eng.alive()
    # Rendering all along: the virtual panel's snapshot keeps changing.
    first = eng.panel()
    time.sleep(0.6)
    assert first is not None and eng.panel() is not None
    # At least one attempt (a slow start-up may leave time for only one), never a tight loop.
    wait_until(lambda: log_events(eng, "mqtt_connect_failed"), 20, message="an attempt")
    failed = log_events(eng, "mqtt_connect_failed")
    assert 1 <= len(failed) <= 5, f"{len(failed)} attempts in 5 s is a tight loop"
    own_broker.start()
    t0 = time.monotonic()
    _, p = _all_retained_back(own_broker, dev, {"state": "ON"}, timeout_s=10)
    try:
        m = fresh_metrics(p, dev)
        # Published while offline beyond the bounded queue: dropped and counted.
        assert m["mqtt_publish_dropped_total"] > 0
        # Drawing all along (the worst gap over the last 512 frames, ~17 s, covers the
        # time the broker was down), not a frame count: that depends on speed.
        assert m["frames_total"] > 0
        assert m["frame_gap_ms_max_recent"] < LOADED_GAP_LIMIT_MS, m
        report_figure("broker_down_at_start", online_after_broker_start_s=round(
            time.monotonic() - t0, 2), attempts_while_down=len(failed),
            publishes_dropped=m["mqtt_publish_dropped_total"])
    finally:
        p.close()


def test_refused_credentials_are_reported_and_not_retried_in_a_tight_loop(
        engine_factory: Factory, broker: LocalBroker, tmp_path: Path) -> None:
    dev = "creds"
    secret = tmp_path / "wrong.password"
    secret.write_text("not-the-password\n")
    broker.add_device(dev)  # the box's own user exists: only the password is wrong
    log_start = len(broker.log_tail(10**8))
    eng = engine_factory(dev, wait_online=False,
                         mqtt={"password_file": str(secret), "auth_retry_s": 3})
    window_s = 10.0
    time.sleep(window_s)
    assert eng.alive()
    refused = log_events(eng, "mqtt_auth_failed")
    assert refused, eng.log()[-2000:]
    assert "password_file" in refused[0]["hint"] and refused[0]["level"] == "error"
    # Count the broker's side too: mosquitto logs a refused client as
    # "Client <unknown> disconnected, not authorised." (nothing else is refused meanwhile).
    broker_lines = [ln for ln in broker.log_tail(10**8)[log_start:].splitlines()
                    if re.search(r"not authori[sz]ed", ln)]
    limit = window_s / 3 + 2
    assert 1 <= len(refused) <= limit, f"{len(refused)} refused logins in {window_s} s"
    assert 1 <= len(broker_lines) <= limit, broker_lines
    health = [e for e in log_events(eng, "health_changed")
              if any("refused the credentials" in r for r in e["reasons"])]
    assert health and health[-1]["status"] == "failed"
    # Fix the file: the next attempt re-reads it, no restart needed.
    secret.write_text(broker.passwords[dev] + "\n")
    t0 = time.monotonic()
    p = watch(broker, dev, user="lightbox-monitor")
    try:
        p.wait_for(f"lightbox/{dev}/status", lambda v: v == "online", timeout_s=10)
    finally:
        p.close()
    assert log_events(eng, "mqtt_auth_recovered")
    report_figure("broker_refuses_credentials", window_s=window_s,
                  engine_attempts=len(refused), broker_refusals=len(broker_lines),
                  online_after_fix_s=round(time.monotonic() - t0, 2))


def test_engine_renders_on_while_the_broker_is_gone(engine_factory: Factory,
                                                    own_broker: LocalBroker) -> None:
    dev = "bgone"
    eng = engine_factory(dev, b=own_broker)
    p = watch(own_broker, dev)
    before = fresh_metrics(p, dev, lambda m: m["frames_total"] > 30)
    p.close()
    own_broker.kill()
    time.sleep(4.0)
    assert eng.alive()
    own_broker.start()
    _, p = _all_retained_back(own_broker, dev, {"state": "ON"})
    try:
        after = fresh_metrics(p, dev)
        # Drawing all along, without a stall (not a frame count: that depends on speed).
        assert_loop_kept_pace(before, after)
        assert wait_until(lambda: log_events(eng, "mqtt_connected"), 5)
    finally:
        p.close()


def test_publishing_never_waits_for_paho(broker: LocalBroker) -> None:
    """The render thread's publish returns while paho's network thread holds its lock.

    paho holds ``_out_message_mutex`` while it resends after a CONNACK, and used to be
    called straight from the render loop: a publish then waited for the network thread.
    """
    from appliance.mqtt.link import MQTTLink
    from appliance.settings import MQTTSettings
    from tests.support import engine_settings

    cfg = MQTTSettings.model_validate(engine_settings(broker, "nowait")["mqtt"])
    link = MQTTLink(cfg, "nowait", lambda *a: None, lambda: None)
    link.start()
    p = watch(broker, "nowait")
    try:
        assert wait_until(lambda: link.connected, 10)
        client = link._client
        assert client is not None
        returned = threading.Event()

        def render_thread() -> None:
            for i in range(50):
                link.publish("state", {"n": i}, retain=True)
                link.publish("events", {"event": "x", "n": i})
            returned.set()

        with client._out_message_mutex:  # the network thread's lock, held as paho does
            t = threading.Thread(target=render_thread, daemon=True)
            t.start()
            assert returned.wait(10), "publish waited for paho's lock"
        # Once paho lets go, the newest state is delivered.
        p.wait_for("lightbox/nowait/state", lambda v: v == {"n": 49}, timeout_s=10)
    finally:
        p.close()
        link.stop()
