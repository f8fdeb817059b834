"""`lightbox verify` against a real local set-up: broker, engine and bridge subprocesses.

There is no systemd here, so it runs with --no-systemd (the unit checks run in
tests/deploy/test_nspawn.py, inside a booted systemd). It must print PASS for
every check of a healthy set-up, FAIL when the engine is stopped, and FAIL the
unit checks with a reason when systemd is missing and --no-systemd is not given.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance.ops.broker import REPO_ROOT, LocalBroker, free_port
from tests.conftest import need
from tests.support import LightboxProcess, MQTTProbe, http_port_ready, wait_until

pytestmark = pytest.mark.integration

HAS_BRIDGE = importlib.util.find_spec("bridge.cli") is not None


def run_verify(settings: Path, *extra: str, monitor: Path) -> tuple[int, str, dict[str, Any]]:
    cmd = [sys.executable, "-m", "appliance", "verify", "--settings", str(settings),
           "--monitor-password-file", str(monitor), "--timeout", "5", *extra]
    text = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    js = subprocess.run([*cmd, "--json"], capture_output=True, text=True, timeout=120)
    return text.returncode, text.stdout + text.stderr, json.loads(js.stdout)


@pytest.fixture
def setup(tmp_path: Path, broker: LocalBroker, engine_factory: Callable[..., LightboxProcess]
          ) -> Iterator[dict[str, Any]]:
    token = tmp_path / "bridge-token"
    token.write_text("verify-test-token\n")
    token.chmod(0o600)
    logrotate = tmp_path / "logrotate.conf"
    conf = (REPO_ROOT / "deploy/logrotate/lightbox").read_text()
    logrotate.write_text(conf.replace("su root lightbox", "su root root")
                         .replace("/var/log/lightbox", str(tmp_path / "logs")))
    port = free_port()
    engine = engine_factory("verifytest", bridge={"auth_token_file": str(token),
                                                  "host": "127.0.0.1", "port": port})
    bridge = None
    if HAS_BRIDGE:
        bridge = LightboxProcess("bridge", engine.workdir, engine.settings)
        bridge.start()
        try:
            wait_until(lambda: http_port_ready(port), 30, message="bridge listening")
        except TimeoutError:
            raise AssertionError(f"bridge did not start:\n{bridge.log()[-3000:]}") from None
    yield {"engine": engine, "bridge": bridge, "settings": engine.settings_path,
           "logrotate": logrotate, "monitor": broker.password_file("lightbox-monitor")}
    if bridge is not None:
        bridge.stop()


def lines(out: str) -> dict[str, str]:
    got = {}
    for line in out.splitlines():
        if line.startswith(("PASS", "FAIL", "SKIP")):
            got[line[6:].split("  ")[0].strip()] = line[:4]
    return got


MQTT_CHECKS = ("settings valid", "broker refuses anonymous clients", "monitor user logs in",
               "engine online (retained status)", "health fresh and not failed",
               "monitor user cannot command", "box login speaks for this box alone",
               "command round trip (a no-op command, state unchanged)",
               "log rotation configured", "secret mqtt.password_file",
               "secret bridge.auth_token_file", "secret monitor password")


ROUND_TRIP = "command round trip (a no-op command, state unchanged)"
WITH_TOKEN = "write with the token (a no-op, state unchanged)"
NO_TOKEN = "writes need the token (401 without)"
IDENTITY = "bridge is this box (/api/info device_id)"


def test_verify_passes_on_a_healthy_setup(setup: dict[str, Any]) -> None:
    code, out, js = run_verify(setup["settings"], "--no-systemd",
                               "--logrotate-conf", str(setup["logrotate"]),
                               monitor=setup["monitor"])
    print(out)
    got = lines(out)
    for name in MQTT_CHECKS:
        assert got.get(name) == "PASS", f"{name}: {got.get(name)}\n{out}"
    assert not any(k.startswith("unit ") for k in got), "--no-systemd must skip unit checks"
    assert "checks:" in out and js["checks"] and js["passed"] + js["failed"] == len(js["checks"])
    if HAS_BRIDGE:
        assert code == 0 and js["ok"], out
        for path in ("/api/health", "/api/state", "/metrics", "/api/openapi.json"):
            assert got[f"GET {path}"] == "PASS"
        assert got["writes need the token (401 without)"] == "PASS"
        assert got["bridge is this box (/api/info device_id)"] == "PASS"
        assert got["write with the token (a no-op, state unchanged)"] == "PASS"
    else:
        assert code == 1 and any(k.startswith("GET ") and v == "FAIL" for k, v in got.items())


def test_verify_fails_when_the_engine_is_stopped(setup: dict[str, Any]) -> None:
    setup["engine"].stop()
    code, out, js = run_verify(setup["settings"], "--no-systemd",
                               "--logrotate-conf", str(setup["logrotate"]),
                               monitor=setup["monitor"])
    got = lines(out)
    assert code == 1 and not js["ok"]
    assert got["engine online (retained status)"] == "FAIL", out
    assert got[ROUND_TRIP] == "SKIP", out
    assert got["broker refuses anonymous clients"] == "PASS"
    assert "offline" in out


def test_verify_without_systemd_fails_the_unit_checks(setup: dict[str, Any]) -> None:
    need("a machine without systemd as PID 1", not Path("/run/systemd/system").is_dir(),
         "this test checks the no-systemd message")
    code, out, _ = run_verify(setup["settings"], "--logrotate-conf", str(setup["logrotate"]),
                              monitor=setup["monitor"])
    assert code == 1
    assert lines(out)["systemd units"] == "FAIL" and "--no-systemd" in out


def test_verify_flags_a_world_readable_secret_and_a_wrong_monitor_password(
        setup: dict[str, Any], tmp_path: Path) -> None:
    bad = tmp_path / "monitor.password"
    bad.write_text("not-the-password\n")
    bad.chmod(0o644)
    code, out, _ = run_verify(setup["settings"], "--no-systemd",
                              "--logrotate-conf", str(tmp_path / "missing.conf"), monitor=bad)
    got = lines(out)
    assert code == 1
    assert got["secret monitor password"] == "FAIL" and "readable by everyone" in out
    assert got["monitor user logs in"] == "FAIL"
    assert got["log rotation configured"] == "FAIL"
    assert got[ROUND_TRIP] == "SKIP" and got[WITH_TOKEN] == "SKIP"
    assert "MQTT checks failed (monitor user logs in)" in out


def test_verify_reports_invalid_settings(tmp_path: Path) -> None:
    bad = tmp_path / "settings.json"
    bad.write_text('{"display": {"fps": 0}}')
    r = subprocess.run([sys.executable, "-m", "appliance", "verify", "--settings", str(bad)],
                       capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert r.returncode == 1 and "FAIL  settings valid" in r.stdout and "display.fps" in r.stdout


def retained_state(broker: LocalBroker, device_id: str) -> dict[str, Any]:
    """The retained state of ``device_id``, read by a fresh client."""
    p = MQTTProbe(broker, "lightbox-bridge").connect()
    try:
        p.subscribe(f"lightbox/{device_id}/state", wait_s=0)
        state: dict[str, Any] = p.wait_for(f"lightbox/{device_id}/state", timeout_s=10)
        return state
    finally:
        p.close()


def look(state: dict[str, Any]) -> dict[str, Any]:
    return {k: state.get(k) for k in ("state", "brightness", "effect", "params", "started_at")}


def test_verify_leaves_the_panel_exactly_as_it_was(setup: dict[str, Any], broker: LocalBroker,
                                                   probe: Callable[..., MQTTProbe]) -> None:
    p = probe("lightbox-bridge")
    base = "lightbox/verifytest"
    reply = p.request(f"{base}/cmd/animation",
                      {"name": "fire", "params": {"palette": "blue", "speed": 2}})
    assert reply["ok"], reply
    assert p.request(f"{base}/cmd/brightness", 37)["ok"]
    before = retained_state(broker, "verifytest")
    assert before["params"]["palette"] == "blue" and before["params"]["speed"] == 2
    assert before["brightness"] == 37
    code, out, _ = run_verify(setup["settings"], "--no-systemd",
                              "--logrotate-conf", str(setup["logrotate"]),
                              monitor=setup["monitor"])
    got = lines(out)
    assert got[ROUND_TRIP] == "PASS", out
    after = retained_state(broker, "verifytest")
    assert look(after) == look(before), out
    assert after["version"] > before["version"], "the write checks must have run"
    if HAS_BRIDGE:
        assert code == 0 and got[WITH_TOKEN] == "PASS", out


def test_verify_refuses_another_box_on_the_bridge_port(
        tmp_path: Path, broker: LocalBroker,
        engine_factory: Callable[..., LightboxProcess]) -> None:
    need("the bridge", HAS_BRIDGE, "install the bridge extra")
    token = tmp_path / "bridge-token"
    token.write_text("verify-test-token\n")
    token.chmod(0o600)
    port = free_port()
    mine = engine_factory("verifymine", bridge={"auth_token_file": str(token),
                                                "host": "127.0.0.1", "port": port})
    # Another box (a dev run: no token) holds the port the settings name.
    other = engine_factory("verifyother", bridge={"host": "127.0.0.1", "port": port})
    bridge = LightboxProcess("bridge", other.workdir, other.settings).start()
    try:
        wait_until(lambda: http_port_ready(port), 30, message="bridge listening")
        before = retained_state(broker, "verifyother")
        code, out, js = run_verify(mine.settings_path, "--no-systemd",
                                   monitor=broker.password_file("lightbox-monitor"))
        after = retained_state(broker, "verifyother")
    finally:
        bridge.stop()
    got = lines(out)
    assert code == 1 and not js["ok"]
    assert got[IDENTITY] == "FAIL", out
    assert "'verifyother'" in out and "'verifymine'" in out and f"127.0.0.1:{port}" in out
    assert got[NO_TOKEN] == "SKIP" and got[WITH_TOKEN] == "SKIP", out
    assert got["GET /api/state"] == "SKIP"
    assert after["version"] == before["version"], "a write reached the other box"
    assert look(after) == look(before)


def test_verify_skips_the_writes_when_mqtt_fails(setup: dict[str, Any], broker: LocalBroker,
                                                  tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.password"
    wrong.write_text("not-the-password\n")
    wrong.chmod(0o600)
    settings = json.loads(setup["settings"].read_text())
    settings["mqtt"]["password_file"] = str(wrong)
    path = tmp_path / "wrong-settings.json"
    path.write_text(json.dumps(settings))
    before = retained_state(broker, "verifytest")
    code, out, js = run_verify(path, "--no-systemd", "--logrotate-conf", str(setup["logrotate"]),
                               monitor=setup["monitor"])
    got = lines(out)
    assert code == 1 and not js["ok"] and js["skipped"] >= 3
    assert got["box login speaks for this box alone"] == "FAIL", out
    for name in (ROUND_TRIP, NO_TOKEN, WITH_TOKEN):
        assert got[name] == "SKIP", f"{name}: {got.get(name)}\n{out}"
    assert "MQTT checks failed (box login speaks for this box alone)" in out
    assert retained_state(broker, "verifytest")["version"] == before["version"]


def test_verify_keeps_the_look_after_the_playing_image_is_deleted(
        setup: dict[str, Any], broker: LocalBroker) -> None:
    need("the bridge", HAS_BRIDGE, "install the bridge extra")
    import requests

    from tests.bridge import images_util

    port = setup["engine"].settings["bridge"]["port"]
    url = f"http://127.0.0.1:{port}"
    s = requests.Session()
    s.headers["Authorization"] = "Bearer verify-test-token"
    r = s.post(f"{url}/api/images", files={"file": ("pic.png", images_util.png(), "image/png")},
               timeout=20)
    assert r.status_code == 201, r.text
    image_id = r.json()["id"]
    r = s.post(f"{url}/api/animation", json={"name": "image", "params": {"image": image_id}},
               timeout=20)
    assert r.status_code == 200, r.text
    assert s.delete(f"{url}/api/images/{image_id}", timeout=20).status_code == 200
    # The engine leaves a deleted image for its default animation (issue 12, item 9).
    wait_until(lambda: retained_state(broker, "verifytest")["effect"] != "image", 10, 0.2,
               "the engine leaves the deleted image")
    before = retained_state(broker, "verifytest")
    code, out, _ = run_verify(setup["settings"], "--no-systemd",
                              "--logrotate-conf", str(setup["logrotate"]),
                              monitor=setup["monitor"])
    after = retained_state(broker, "verifytest")
    assert code == 0, out
    assert look(after) == look(before) and "image" not in after["params"], out
