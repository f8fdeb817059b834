"""Reads, commands and routing of the bridge on ``app.test_client()`` with a fake engine."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from appliance.wire import topics
from tests.bridge.unit.conftest import Bridge, error_of


def test_health_is_200_with_the_bridge_checks_and_the_engine_health(bridge: Bridge) -> None:
    r = bridge.get("/api/health")
    assert r.status_code == 200, r.data
    body = r.get_json()
    assert body["status"] == "ok" and body["failed"] == []
    assert set(body["checks"]) == {"mqtt", "engine_online", "health_fresh", "health_not_failed"}
    assert body["engine"]["status"] == "ok"
    assert "Retry-After" not in r.headers


@pytest.mark.parametrize("name", topics.HTTP_READABLE)
def test_retained_topics_are_served_with_the_engine_status(bridge: Bridge, name: str) -> None:
    r = bridge.get(f"/api/{name}")
    assert r.status_code == 200 and r.mimetype == "application/json"
    assert r.get_json() == bridge.engine.value(name)
    assert r.headers["X-Engine-Status"] == "online"


def test_a_topic_never_published_is_503_no_data(bridge: Bridge) -> None:
    bridge.engine.forget("metrics")
    r = bridge.get("/api/metrics")
    assert r.status_code == 503 and error_of(r)["code"] == "no_data"
    assert r.headers["Retry-After"] == "2"


def test_commands_reach_the_engine_validated_and_answer_with_the_new_state(
        bridge: Bridge) -> None:
    r = bridge.post("/api/animation", {"name": "solid", "params": {"color": "#ff0000"}})
    assert r.status_code == 200, r.data
    assert r.get_json()["state"]["effect"] == "solid"
    assert bridge.get("/api/state").get_json()["effect"] == "solid"
    r = bridge.post("/api/brightness", {"brightness": 40})
    assert r.get_json()["state"]["brightness"] == 40
    for given, expected in (("off", "OFF"), ("On", "ON"), ("toggle", "OFF")):
        r = bridge.post("/api/power", {"state": given})  # any case, as cmd/power takes it
        assert r.status_code == 200 and r.get_json()["state"]["state"] == expected
    assert bridge.post("/api/params", {"color": "#00ff00"}).status_code == 200
    assert bridge.post("/api/identify", {"seconds": 0.5}).status_code == 200
    assert bridge.post("/api/identify").status_code == 200  # no body: the default
    assert bridge.engine.requests == [
        ("animation", {"name": "solid", "params": {"color": "#ff0000"}}),
        ("brightness", {"brightness": 40}),
        ("power", {"state": "OFF"}), ("power", {"state": "ON"}), ("power", {"state": "TOGGLE"}),
        ("params", {"color": "#00ff00"}),
        ("identify", {"seconds": 0.5}), ("identify", {"seconds": 5.0}),
    ]


def test_unknown_paths_and_methods_are_json(bridge: Bridge) -> None:
    r = bridge.get("/api/nope")
    assert r.status_code == 404 and error_of(r)["code"] == "not_found"
    r = bridge.send("DELETE", "/api/state")
    assert r.status_code == 405 and "GET" in r.headers["Allow"]
    assert error_of(r)["code"] == "method_not_allowed"
    assert b"Traceback" not in r.data


def test_a_crash_in_a_view_is_a_json_500_without_a_trace(bridge: Bridge) -> None:
    def boom(body: object) -> dict[str, object]:
        raise RuntimeError("secret internals")

    bridge.engine.replies["brightness"] = boom
    r = bridge.post("/api/brightness", {"brightness": 10})
    assert r.status_code == 500 and error_of(r)["code"] == "internal"
    assert b"secret internals" not in r.data and b"Traceback" not in r.data


def test_openapi_describes_every_route(bridge: Bridge) -> None:
    spec = bridge.get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    missing = []
    for rule in bridge.app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in rule.methods or ():
            if method in ("HEAD", "OPTIONS"):
                continue
            if method.lower() not in spec["paths"].get(path, {}):
                missing.append(f"{method} {path}")
    assert not missing, missing


def test_prometheus_metrics_are_prefixed_and_read_the_cache(bridge: Bridge) -> None:
    r = bridge.get("/metrics")
    assert r.status_code == 200 and r.mimetype == "text/plain"
    text = r.get_data(as_text=True)
    names = {line.split("{")[0].split(" ")[0] for line in text.splitlines()
             if line and not line.startswith("#")}
    assert names and all(n.startswith("lightbox_") for n in names), names
    assert "lightbox_engine_online 1.0" in text
    assert re.search(r'^lightbox_health_status\{status="ok"\} 1\.0$', text, re.M)


def test_events_start_with_status_and_the_retained_snapshot(
        make_bridge: Callable[..., Bridge]) -> None:
    b = make_bridge()
    r = b.get("/api/events?preview=1", buffered=False)
    assert r.status_code == 200 and r.mimetype == "text/event-stream"
    chunks = iter(r.response)
    assert next(chunks) == b"retry: 2000\n\n"
    names = [re.match(rb"event: (\w+)", next(chunks)).group(1).decode()  # type: ignore[union-attr]
             for _ in range(1 + len(topics.SSE_SNAPSHOT))]
    assert names == ["status", *topics.SSE_SNAPSHOT]
    b.engine.publish("events", {"event": "animation_failed", "animation": "fire"})
    live = next(chunks)
    assert live.startswith(b"event: events\ndata: {") and b"animation_failed" in live
    assert b.engine.preview_requests >= 1  # a preview watcher keeps the engine streaming
    r.close()


def test_event_streams_are_capped(make_bridge: Callable[..., Bridge]) -> None:
    b = make_bridge(sse_max_clients=1)
    first = b.get("/api/events", buffered=False)
    next(iter(first.response))
    r = b.get("/api/events")
    assert r.status_code == 503 and error_of(r)["code"] == "too_many_streams"
    assert r.headers["Retry-After"] == "10"
    first.close()
