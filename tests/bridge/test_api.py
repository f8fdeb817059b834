"""HTTP API against the real thing: mosquitto, `lightbox engine` and `lightbox bridge` (waitress).

Every endpoint of contract section 4 and its error codes, security headers,
cross-site refusal, Prometheus, OpenAPI coverage and Server-Sent Events.
"""

from __future__ import annotations

import base64
import json
import re
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from appliance.ops.broker import LocalBroker
from tests.bridge.conftest import Stack
from tests.support import MQTTProbe, wait_until

pytestmark = pytest.mark.integration

SECURITY_HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options",
                    "Referrer-Policy")


def error_of(r: requests.Response) -> dict[str, Any]:
    body = r.json()
    assert set(body) == {"error"}, body
    assert {"code", "message"} <= set(body["error"]), body
    err: dict[str, Any] = body["error"]
    return err


# ---------------------------------------------------------------------- reads
def test_health_is_200_with_bridge_checks_and_engine_health(stack: Stack) -> None:
    r = stack.get("/api/health")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ok" and body["failed"] == []
    assert set(body["checks"]) == {"mqtt", "engine_online", "health_fresh", "health_not_failed"}
    assert body["engine"]["status"] in ("ok", "degraded")
    assert body["checks"]["health_fresh"]["max_age_s"] == 6.0  # 3 x health.interval_s (2 s)


def test_retained_topics_are_served(stack: Stack) -> None:
    state = stack.get("/api/state")
    assert state.status_code == 200 and state.json()["state"] in ("ON", "OFF")
    assert state.headers["X-Engine-Status"] == "online"
    names = [a["name"] for a in stack.get("/api/animations").json()]
    assert {"plasma", "breathe", "image"} <= set(names)
    metrics = stack.get("/api/metrics").json()
    assert {"fps", "target_fps", "frame_ms_p99", "uptime_s"} <= set(metrics)
    info = stack.get("/api/info").json()
    assert info["device_id"] == stack.device_id and info["preview"]["format"] == "rgb24"


# ---------------------------------------------------------------------- commands
def test_animation_changes_state_on_mqtt_and_round_trip_is_fast(
        stack: Stack, mqtt_watch: Callable[[str], MQTTProbe]) -> None:
    watch = mqtt_watch(stack.base)
    since = watch.mark()
    r = stack.post("/api/animation", {"name": "breathe", "params": {"period": 2.5}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] is True and body["state"]["effect"] == "breathe"
    assert body["state"]["params"]["period"] == 2.5
    seen = watch.wait_for(f"{stack.base}/state", lambda s: s.get("effect") == "breathe",
                          timeout_s=5, since=since)
    assert seen["params"]["period"] == 2.5
    # Round trips through the broker and one render-loop frame.
    times = []
    for name in ["plasma", "breathe"] * 15:
        t0 = time.perf_counter()
        assert stack.post("/api/animation", {"name": name}).status_code == 200
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    p50, p99 = statistics.median(times), times[int(len(times) * 0.99) - 1]
    print(f"\nPOST /api/animation round trip: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    assert p50 < 500


def test_brightness_power_params_identify(stack: Stack) -> None:
    assert stack.post("/api/animation", {"name": "plasma"}).status_code == 200
    r = stack.post("/api/brightness", {"brightness": 42})
    assert r.status_code == 200 and r.json()["state"]["brightness"] == 42
    r = stack.post("/api/brightness", {"brightness": 0})
    assert r.json()["state"]["state"] == "OFF" and r.json()["state"]["brightness"] == 42
    r = stack.post("/api/power", {"state": "ON"})
    assert r.json()["state"]["state"] == "ON"
    r = stack.post("/api/power", {"state": "TOGGLE"})
    assert r.json()["state"]["state"] == "OFF"
    assert stack.post("/api/power", {"state": "ON"}).status_code == 200
    for state, expected in (("off", "OFF"), ("On", "ON"), ("toggle", "OFF")):
        r = stack.post("/api/power", {"state": state})  # any case, as cmd/power takes it
        assert r.status_code == 200 and r.json()["state"]["state"] == expected, r.text
    assert stack.post("/api/power", {"state": "ON"}).status_code == 200
    r = stack.post("/api/params", {"speed": 2.0})
    assert r.status_code == 200 and r.json()["state"]["params"]["speed"] == 2.0
    assert stack.post("/api/identify", {"seconds": 0.5}).status_code == 200
    assert stack.post("/api/identify").status_code == 200


@pytest.mark.parametrize(("path", "body", "status", "code", "field"), [
    ("/api/animation", {"name": "no_such"}, 404, "unknown_animation", "name"),
    ("/api/animation", {"name": "plasma", "params": {"speed": 99}}, 422, "invalid_param",
     "params.speed"),
    ("/api/animation", {"name": "plasma", "params": {"nope": 1}}, 422, "invalid_param",
     "params.nope"),
    ("/api/animation", {"name": "image", "params": {"image": "0123456789abcdef"}}, 404,
     "unknown_image", "params.image"),
    ("/api/animation", {"nmae": "plasma"}, 400, "unknown_field", "nmae"),
    ("/api/animation", {}, 422, "missing_field", "name"),
    ("/api/brightness", {"brightness": 101}, 422, "out_of_range", "brightness"),
    ("/api/brightness", {"brightness": "50"}, 422, "invalid_value", "brightness"),
    ("/api/brightness", 50, 400, "invalid_payload", None),
    ("/api/power", {"state": "MAYBE"}, 422, "invalid_value", "state"),
    ("/api/params", {"speed": -1}, 422, "invalid_param", "params.speed"),
    ("/api/params", [1, 2], 400, "invalid_payload", None),
])
def test_command_errors_map_onto_http(stack: Stack, path: str, body: Any, status: int,
                                      code: str, field: str | None) -> None:
    if path == "/api/params":
        assert stack.post("/api/animation", {"name": "plasma"}).status_code == 200
    before = stack.get("/api/state").json()
    r = stack.post(path, body)
    assert r.status_code == status, r.text
    err = error_of(r)
    assert err["code"] == code
    if field is not None:
        assert err["field"] == field and err["details"]["field"] == field
    if code == "invalid_param" and field == "params.speed":
        assert err["message"].startswith("speed: ") and "out of range 0.1..5" in err["message"]
    after = stack.get("/api/state").json()
    assert after["version"] == before["version"]  # a bad command changes nothing




# ---------------------------------------------------------------------- security
@pytest.mark.parametrize("path", ["/", "/api/health", "/api/nope", "/static/app.js", "/metrics",
                                  "/api/openapi.json"])
def test_security_headers_on_every_response(stack: Stack, path: str) -> None:
    r = stack.get(path)
    for h in SECURITY_HEADERS:
        assert h in r.headers, (path, h)
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"


def test_cross_site_writes_are_refused(stack: Stack) -> None:
    r = stack.post("/api/brightness", {"brightness": 50},
                   headers={"Origin": "http://evil.example"})
    assert r.status_code == 403 and error_of(r)["code"] == "cross_site"
    r = stack.post("/api/brightness", {"brightness": 50},
                   headers={"Referer": "http://evil.example/page"})
    assert r.status_code == 403
    r = stack.post("/api/brightness", {"brightness": 50},
                   headers={"Origin": "null"})
    assert r.status_code == 403
    r = stack.post("/api/brightness", {"brightness": 50}, headers={"Origin": stack.url})
    assert r.status_code == 200


def test_ui_is_self_contained_without_inline_script(stack: Stack) -> None:
    r = stack.get("/")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    html = r.text
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script"
    assert " style=" not in html and "<style" not in html, "inline style"
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html
    for ref in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        s = stack.get(ref)
        assert s.status_code == 200, ref
        assert "https://" not in s.text and "http://" not in s.text.replace(
            "http://www.w3.org", ""), ref


# ---------------------------------------------------------------------- config
def test_config_view_patch_history_backup_restore(stack: Stack) -> None:
    cfg = stack.get("/api/config").json()
    assert cfg["settings"]["device_id"] == stack.device_id
    assert {"source", "path", "restart_required", "history"} <= set(cfg)
    r = stack.send("PATCH", "/api/config", {"display": {"brightness": 55}})
    assert r.status_code == 200, r.text
    assert [c["path"] for c in r.json()["changes"]] == ["display.brightness"]
    hist = stack.get("/api/config/history").json()["history"]
    assert any(c["path"] == "display.brightness" for h in hist for c in h["changes"])
    # Validation errors name the field.
    r = stack.send("PATCH", "/api/config", {"display": {"fps": 500}})
    assert r.status_code == 422 and error_of(r)["field"] == "display.fps"
    assert error_of(r)["details"]["problems"][0]["field"] == "display.fps"
    r = stack.send("PATCH", "/api/config", {"display": {"fsp": 20}})
    assert r.status_code == 422 and error_of(r)["field"] == "display.fsp"
    r = stack.send("PATCH", "/api/config", {"replace": True})
    assert r.status_code == 400
    # Backup downloads a valid settings file that restores.
    b = stack.get("/api/config/backup")
    assert b.status_code == 200 and "attachment" in b.headers["Content-Disposition"]
    backup = b.json()
    assert backup["display"]["brightness"] == 55
    r = stack.post("/api/config/restore", {**backup, "display": {**backup["display"],
                                                                 "brightness": 60}})
    assert r.status_code == 200, r.text
    assert stack.get("/api/config").json()["settings"]["display"]["brightness"] == 60


def test_config_changes_are_logged_with_where_they_came_from(stack: Stack,
                                                             broker: LocalBroker) -> None:
    """PATCH /api/config is `http`, cmd/config is `mqtt`, in the history and changes.jsonl;
    the source is a label only `http` or `mqtt` may fill."""
    changelog = stack.engine.settings_path.parent / "backups" / "changes.jsonl"

    def logged(value: float) -> str:
        """The source the change to `value` was logged with (history and file agree)."""
        def entry() -> Any:
            hist = stack.get("/api/config/history").json()["history"]
            return next((h for h in hist if h["changes"][0].get("new") == value), None)
        shown = wait_until(entry, message=f"history entry for {value}")
        rows = [json.loads(line) for line in changelog.read_text(encoding="utf-8").splitlines()]
        row = next(r for r in rows if r["changes"][0].get("new") == value)
        assert row["source"] == shown["source"]
        return str(shown["source"])

    r = stack.send("PATCH", "/api/config", {"health": {"interval_s": 11}})
    assert r.status_code == 200, r.text
    assert logged(11) == "http"
    probe = MQTTProbe(broker, "homeassistant").connect()
    try:
        r = probe.request(f"{stack.base}/cmd/config", {"health": {"interval_s": 12}})
        assert r["ok"], r
        assert logged(12) == "mqtt"
        r = probe.request(f"{stack.base}/cmd/config", {"health": {"interval_s": 13}},
                          user_properties=[("source", "root")])
        assert r["ok"], r
        assert logged(13) == "mqtt"  # not a source: recorded as what it is, MQTT
    finally:
        probe.close()


def test_config_schema_covers_every_setting_with_its_markers(stack: Stack) -> None:
    """The form's schema: one entry per leaf setting, from the model and its descriptions
    (the location and the schedule's windows as one JSON value each)."""
    from appliance.settings import Settings, is_local_only
    from appliance.settings.doc import fields
    from appliance.settings.form import WHOLE

    body = stack.get("/api/config/schema").json()
    by_path = {f["path"]: f for f in body["fields"]}
    leaves = [p for p, _, sub in fields()
              if (sub is None and p.split(".")[0] not in WHOLE) or p in WHOLE]
    assert list(by_path) == leaves
    assert (by_path["location"]["type"], by_path["location"]["nullable"]) == ("object", True)
    assert by_path["schedule"]["type"] == "list"
    assert {f["section"] for f in body["fields"]} <= {s["id"] for s in body["sections"]}
    assert by_path["display.driver"]["type"] == "choice"
    assert by_path["display.driver"]["choices"] == ["auto", "rgbmatrix", "virtual", "emulator"]
    assert by_path["logging.level"]["choices"] == ["debug", "info", "warning", "error"]
    assert (by_path["display.rows"]["min"], by_path["display.rows"]["max"]) == (8, 64)
    assert by_path["display.rows"]["restart_required"] is True
    assert by_path["display.brightness"]["restart_required"] is False
    assert by_path["display.brightness"]["default"] == Settings().display.brightness
    assert by_path["display.brightness"]["advanced"] is False
    assert by_path["display.show_refresh_rate"]["type"] == "boolean"
    assert by_path["mqtt.username"]["nullable"] is True
    assert all(f["local_only"] == is_local_only(f["path"]) for f in body["fields"])
    assert all(f["help"] for f in body["fields"])


@pytest.mark.parametrize(("raw", "status"), [
    (b'{"display": {"fps": 30,,}', 400),
    (b'{"display": {"fps": 9000}}', 422),
    (b'{"no_such_section": {}}', 422),
    (b'[1, 2, 3]', 422),
    (b"\xff\xfe not utf-8", 400),
])
def test_broken_restore_leaves_the_file_byte_identical(stack: Stack, raw: bytes,
                                                       status: int) -> None:
    before = stack.engine.settings_path.read_bytes()
    r = stack.send("POST", "/api/config/restore", data=raw,
                   headers={"Content-Type": "application/json"})
    assert r.status_code == status, r.text
    time.sleep(0.2)
    assert stack.engine.settings_path.read_bytes() == before


# ---------------------------------------------------------------------- monitoring
def test_prometheus_metrics_all_prefixed(stack: Stack) -> None:
    stack.post("/api/brightness", {"brightness": 70})
    r = stack.get("/metrics")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    names = {line.split("{")[0].split(" ")[0] for line in r.text.splitlines()
             if line and not line.startswith("#")}
    assert names and all(n.startswith("lightbox_") for n in names), names
    for expected in ("lightbox_fps", "lightbox_target_fps", "lightbox_frames_total",
                     "lightbox_health_status", "lightbox_engine_online",
                     "lightbox_health_age_seconds", "lightbox_bridge_http_requests_total",
                     "lightbox_bridge_command_seconds_bucket", "lightbox_bridge_sse_clients"):
        assert expected in names, expected
    assert re.search(r'^lightbox_health_status\{status="(ok|degraded)"\} 1\.0$', r.text, re.M)


# ---------------------------------------------------------------------- live events
class SSE:
    """A minimal Server-Sent Events reader over requests."""

    def __init__(self, url: str, timeout_s: float = 10) -> None:
        self.resp = requests.get(url, stream=True, timeout=timeout_s)
        self.events: list[tuple[str, Any]] = []
        self._lines = self.resp.iter_lines(decode_unicode=True)

    def next_event(self) -> tuple[str, Any]:
        name, data = "message", ""
        for line in self._lines:
            if line is None:
                continue
            if line == "":
                if data:
                    return name, json.loads(data)
                name, data = "message", ""
            elif line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data += line[5:].strip()
        raise EOFError("stream ended")

    def wait_for(self, name: str, pred: Callable[[Any], bool] = lambda v: True,
                 timeout_s: float = 10) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            n, v = self.next_event()
            self.events.append((n, v))
            if n == name and pred(v):
                return v
        raise TimeoutError(f"no {name} event")

    def close(self) -> None:
        self.resp.close()


@pytest.fixture
def sse(stack: Stack) -> Iterator[Callable[[str], SSE]]:
    opened: list[SSE] = []

    def make(query: str = "") -> SSE:
        s = SSE(f"{stack.url}/api/events{query}")
        opened.append(s)
        return s

    yield make
    for s in opened:
        s.close()


def test_events_stream_state_metrics_and_preview(stack: Stack, sse: Callable[[str], SSE]
                                                 ) -> None:
    s = sse("?preview=1")
    assert s.resp.status_code == 200
    assert s.resp.headers["Content-Type"].startswith("text/event-stream")
    assert s.wait_for("status") == "online"
    s.wait_for("state")
    threading.Timer(0.3, lambda: stack.post("/api/brightness", {"brightness": 33})).start()
    s.wait_for("state", lambda v: v["brightness"] == 33)
    s.wait_for("metrics", lambda v: "fps" in v)
    frame = s.wait_for("preview")
    raw = base64.b64decode(frame["data"])
    assert len(raw) == frame["width"] * frame["height"] * 3 == 64 * 32 * 3


def test_event_streams_are_capped_and_leave_threads_for_requests(
        stack: Stack, sse: Callable[[str], SSE]) -> None:
    # Streams closed by earlier tests free their slots once waitress notices.
    wait_until(lambda: stack.get("/api/health").json()["bridge"]["sse_clients"] == 0, 10)
    streams = [sse("") for _ in range(4)]  # bridge.sse_max_clients default
    for s in streams:
        assert s.resp.status_code == 200
    r = requests.get(f"{stack.url}/api/events", timeout=5)
    assert r.status_code == 503 and error_of(r)["code"] == "too_many_streams"
    assert int(r.headers["Retry-After"]) > 0
    # Still answered while the streams hold theirs (a request blocked behind them would
    # wait for ever: the timeout says so, without a stopwatch that depends on speed).
    assert stack.get("/api/health", timeout=10).status_code == 200
    assert stack.post("/api/brightness", {"brightness": 61}, timeout=10).status_code == 200
    for s in streams:
        s.close()
    # Closed streams free their slots (waitress notices the disconnect).
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        r = requests.get(f"{stack.url}/api/events", stream=True, timeout=5)
        r.close()
        if r.status_code == 200:
            break
        time.sleep(0.3)
    assert r.status_code == 200
