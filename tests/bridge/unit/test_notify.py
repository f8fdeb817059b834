"""Notifications over HTTP (contract section 7) on ``app.test_client()`` with the fake engine.

Until the engine's parser knows ``notify`` / ``notify/dismiss``, the command check the
bridge runs before sending (``bridge.web.parse_command``) is given the same payload models
the parser will use, so what is asserted here is the bridge's own behaviour either way.
"""

from __future__ import annotations

from typing import Any

import pytest

from bridge import openapi, web
from tests.bridge.unit.conftest import Bridge, error_of
from tests.bridge.unit.fake_link import parse_with_notify


@pytest.fixture(autouse=True)
def notify_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine's parser, falling back to the payload models for the two new actions."""
    monkeypatch.setattr(web, "parse_command", parse_with_notify)


def test_post_notify_sends_cmd_notify_and_answers_with_the_engines_reply(bridge: Bridge) -> None:
    r = bridge.post("/api/notify", {"text": "Doorbell", "id": "door", "priority": 90,
                                    "color": "#ff8800", "duration_s": 10})
    assert r.status_code == 200, r.data
    body = r.get_json()
    assert body["ok"] is True and body["notification"] == {"id": "door"}
    assert body["state"]["notification"] == "door"
    # Only what the client gave crosses the wire: the engine applies its own defaults.
    assert bridge.engine.requests == [("notify", {"text": "Doorbell", "id": "door",
                                                  "priority": 90, "color": "#ff8800",
                                                  "duration_s": 10})]


def test_without_an_id_the_engine_makes_one_and_the_reply_names_it(bridge: Bridge) -> None:
    r = bridge.post("/api/notify", {"text": "21 °C outside ✓"})
    assert r.status_code == 200, r.data
    made = r.get_json()["notification"]["id"]
    assert bridge.get("/api/notifications").get_json()["active"]["id"] == made
    assert bridge.engine.requests == [("notify", {"text": "21 °C outside ✓"})]


@pytest.mark.parametrize(("body", "status", "code", "field"), [
    ({"text": ""}, 422, "out_of_range", "text"),
    ({"text": "x" * 281}, 422, "out_of_range", "text"),
    ({}, 422, "missing_field", "text"),
    ({"text": "hi", "priority": 101}, 422, "out_of_range", "priority"),
    ({"text": "hi", "priority": "90"}, 422, None, "priority"),
    ({"text": "hi", "id": "has space"}, 422, None, "id"),
    ({"text": "hi", "color": "red"}, 422, None, "color"),
    ({"text": "hi", "position": "side"}, 422, None, "position"),
    ({"text": "hi", "duration_s": 0}, 422, "out_of_range", "duration_s"),
    ({"text": "hi", "ttl_s": 86401}, 422, "out_of_range", "ttl_s"),
    ({"text": "hi", "hold": "yes"}, 422, None, "hold"),
    ({"text": "hi", "transaction": "t1"}, 400, "unknown_field", "transaction"),
    ({"text": "hi", "colour": "#ffffff"}, 400, "unknown_field", "colour"),
])
def test_a_bad_body_is_refused_naming_the_field_and_never_sent(
        bridge: Bridge, body: dict[str, Any], status: int, code: str | None,
        field: str) -> None:
    r = bridge.post("/api/notify", body)
    assert r.status_code == status, r.data
    err = error_of(r)
    assert err["field"] == field
    if code is not None:
        assert err["code"] == code
    assert bridge.engine.requests == []


def test_a_bare_string_is_refused_over_http(bridge: Bridge) -> None:
    r = bridge.post("/api/notify", "Doorbell")
    assert r.status_code == 400 and error_of(r)["code"] == "invalid_payload"


def test_the_text_limit_is_characters_not_bytes(bridge: Bridge) -> None:
    assert bridge.post("/api/notify", {"text": "♥" * 280}).status_code == 200


def test_get_notifications_serves_the_retained_document(bridge: Bridge) -> None:
    bridge.post("/api/notify", {"text": "washing machine done", "id": "wash", "priority": 40})
    bridge.post("/api/notify", {"text": "Doorbell", "id": "door", "priority": 90})
    r = bridge.get("/api/notifications")
    assert r.status_code == 200 and r.headers["X-Engine-Status"] == "online"
    doc = r.get_json()
    assert doc == bridge.engine.value("notifications")
    assert doc["active"]["id"] == "door" and set(doc["active"]) == {
        "id", "text", "priority", "started_at", "ends_at"}
    assert [q["id"] for q in doc["queue"]] == ["wash"]
    assert set(doc["queue"][0]) == {"id", "text", "priority", "queued_at"}


def test_get_notifications_is_503_until_the_engine_published_it(bridge: Bridge) -> None:
    bridge.engine.forget("notifications")
    r = bridge.get("/api/notifications")
    assert r.status_code == 503 and error_of(r)["code"] == "no_data"
    assert r.headers["Retry-After"] == "2"


def test_delete_by_id_and_the_showing_one_send_cmd_notify_dismiss(bridge: Bridge) -> None:
    for n, prio in (("a", 90), ("b", 50), ("c", 10)):
        bridge.post("/api/notify", {"text": n, "id": n, "priority": prio})
    bridge.engine.requests.clear()
    r = bridge.send("DELETE", "/api/notify/b")
    assert r.status_code == 200, r.data
    assert [q["id"] for q in bridge.engine.value("notifications")["queue"]] == ["c"]
    r = bridge.send("DELETE", "/api/notify")
    assert r.status_code == 200, r.data
    assert bridge.engine.value("notifications")["active"]["id"] == "c"
    assert bridge.engine.requests == [("notify/dismiss", {"id": "b"}), ("notify/dismiss", {})]


@pytest.mark.parametrize("bad", ["x" * 65, "semi;colon", "sp%20ace", "%C3%A9t%C3%A9"])
def test_delete_refuses_an_id_outside_the_grammar(bridge: Bridge, bad: str) -> None:
    r = bridge.send("DELETE", f"/api/notify/{bad}")
    assert r.status_code == 422, r.data
    assert error_of(r)["field"] == "id"
    assert bridge.engine.requests == []


def test_an_engine_refusal_maps_onto_http(bridge: Bridge) -> None:
    bridge.engine.replies["notify/dismiss"] = {"ok": False, "error": {
        "code": "unknown_notification", "field": "id", "message": "no notification 'x'"}}
    r = bridge.send("DELETE", "/api/notify/x")
    assert r.status_code == 404 and error_of(r)["code"] == "unknown_notification"


def test_offline_and_silent_engines_are_503_and_504(make_bridge: Any) -> None:
    offline = make_bridge(online=False)
    r = offline.post("/api/notify", {"text": "hi"})
    assert r.status_code == 503 and error_of(r)["code"] == "engine_offline"
    silent = make_bridge()
    silent.engine.silent = True
    r = silent.send("DELETE", "/api/notify")
    assert r.status_code == 504 and error_of(r)["code"] == "engine_timeout"


def test_writes_need_the_token_and_reads_do_not(secured: Bridge) -> None:
    assert secured.post("/api/notify", {"text": "hi"}, auth=False).status_code == 401
    assert secured.send("DELETE", "/api/notify", auth=False).status_code == 401
    assert secured.send("DELETE", "/api/notify/a", auth=False).status_code == 401
    assert secured.get("/api/notifications", auth=False).status_code == 200
    assert secured.post("/api/notify", {"text": "hi"}).status_code == 200


def test_writes_are_rate_limited_as_writes(make_bridge: Any) -> None:
    b = make_bridge(rate_limit_writes="60 per minute")  # the slowest the settings allow
    codes = [b.post("/api/notify", {"text": "hi", "id": "same"}).status_code for _ in range(61)]
    assert codes == [200] * 60 + [429]
    assert b.send("DELETE", "/api/notify").status_code == 429
    assert b.get("/api/notifications").status_code == 200


def test_the_sse_stream_starts_with_the_notifications_document(bridge: Bridge) -> None:
    bridge.post("/api/notify", {"text": "Doorbell", "id": "door"})
    r = bridge.http.get("/api/events", buffered=False)
    head = b""
    for chunk in r.response:
        head += chunk
        if b"event: notifications" in head and b'"door"' in head.split(
                b"event: notifications", 1)[1]:
            break
    r.close()
    assert b"event: notifications" in head


def test_openapi_describes_the_notification_routes() -> None:
    paths = openapi.spec("test")["paths"]
    assert set(paths["/api/notify"]) == {"post", "delete"}
    assert "delete" in paths["/api/notify/{notification_id}"]
    assert "get" in paths["/api/notifications"]
    body = paths["/api/notify"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["additionalProperties"] is False and body["required"] == ["text"]
