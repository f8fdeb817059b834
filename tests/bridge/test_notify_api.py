"""Notifications over HTTP against the real thing (contract section 7): mosquitto, engine, bridge.

HTTP mirrors MQTT: ``POST /api/notify`` is ``cmd/notify`` (the engine's reply,
with the notification's id), ``DELETE /api/notify/<id>`` and ``DELETE
/api/notify`` are ``cmd/notify/dismiss``, ``GET /api/notifications`` is the
retained ``<base>/notifications``, and a new event stream starts with it.
These need the engine's side of section 7 (the notify parser and queue).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.bridge.conftest import Stack
from tests.support import MQTTProbe, wait_until

pytestmark = pytest.mark.integration


def error_of(r: requests.Response) -> dict[str, Any]:
    body = r.json()
    assert set(body) == {"error"}, body
    err: dict[str, Any] = body["error"]
    return err


def notifications(stack: Stack) -> dict[str, Any]:
    r = stack.get("/api/notifications")
    assert r.status_code == 200, r.text
    doc: dict[str, Any] = r.json()
    return doc


def clear(stack: Stack) -> None:
    """Dismiss what is there one by one (HTTP has no ``all``), then wait for an empty document."""
    doc = notifications(stack)
    for n in [*([doc["active"]] if doc["active"] else []), *doc["queue"]]:
        stack.send("DELETE", f"/api/notify/{n['id']}")
    wait_until(lambda: notifications(stack) == {"active": None, "queue": []}, 5, 0.05,
               "no notifications")


def test_post_notify_answers_with_the_id_and_the_document_shows_it(
        stack: Stack, mqtt_watch: Callable[[str], MQTTProbe]) -> None:
    watch = mqtt_watch(stack.base)
    since = watch.mark()
    r = stack.post("/api/notify", {"text": "Doorbell ✓ 21 °C", "id": "door", "priority": 90,
                                   "duration_s": 30})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] is True and body["notification"]["id"] == "door"
    doc = watch.wait_for(f"{stack.base}/notifications",
                         lambda d: (d.get("active") or {}).get("id") == "door", 5, since)
    assert set(doc["active"]) == {"id", "text", "priority", "started_at", "ends_at"}
    assert doc["active"]["text"] == "Doorbell ✓ 21 °C" and doc["active"]["priority"] == 90
    wait_until(lambda: (notifications(stack)["active"] or {}).get("id") == "door", 5, 0.05,
               "the bridge's cache has the notification")
    clear(stack)


def test_without_an_id_the_engine_makes_one(stack: Stack) -> None:
    r = stack.post("/api/notify", {"text": "washing machine done", "hold": True})
    assert r.status_code == 200, r.text
    made = r.json()["notification"]["id"]
    assert made
    wait_until(lambda: (notifications(stack)["active"] or {}).get("id") == made, 5, 0.05,
               "the made id is showing")
    assert notifications(stack)["active"]["ends_at"] is None  # held
    assert stack.send("DELETE", "/api/notify").status_code == 200
    wait_until(lambda: notifications(stack)["active"] is None, 5, 0.05, "dismissed")


def test_queue_and_dismiss_by_id(stack: Stack) -> None:
    for n, prio in (("high", 90), ("mid", 50), ("low", 10)):
        r = stack.post("/api/notify", {"text": n, "id": n, "priority": prio, "hold": True})
        assert r.status_code == 200, r.text
    wait_until(lambda: len(notifications(stack)["queue"]) == 2, 5, 0.05, "two queued")
    doc = notifications(stack)
    assert doc["active"]["id"] == "high"
    assert [q["id"] for q in doc["queue"]] == ["mid", "low"]
    assert set(doc["queue"][0]) == {"id", "text", "priority", "queued_at"}
    assert stack.send("DELETE", "/api/notify/mid").status_code == 200
    wait_until(lambda: [q["id"] for q in notifications(stack)["queue"]] == ["low"], 5, 0.05,
               "mid dismissed")
    assert stack.send("DELETE", "/api/notify").status_code == 200
    wait_until(lambda: (notifications(stack)["active"] or {}).get("id") == "low", 5, 0.05,
               "low shows next")
    clear(stack)


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"text": ""}, 422, "text"),
    ({"text": "x" * 281}, 422, "text"),
    ({"text": "hi", "priority": 101}, 422, "priority"),
    ({"text": "hi", "id": "no spaces"}, 422, "id"),
    ({"text": "hi", "color": "red"}, 422, "color"),
    ({"text": "hi", "colour": "#ffffff"}, 400, "colour"),
])
def test_bad_bodies_are_refused_naming_the_field(stack: Stack, body: dict[str, Any],
                                                 status: int, field: str) -> None:
    r = stack.post("/api/notify", body)
    assert r.status_code == status, r.text
    assert error_of(r)["field"] == field


def test_a_bad_id_in_the_path_is_refused(stack: Stack) -> None:
    r = stack.send("DELETE", "/api/notify/" + "x" * 65)
    assert r.status_code == 422 and error_of(r)["field"] == "id"


def test_a_new_event_stream_starts_with_the_notifications_document(stack: Stack) -> None:
    assert stack.post("/api/notify", {"text": "sse", "id": "sse", "hold": True}
                      ).status_code == 200
    wait_until(lambda: (notifications(stack)["active"] or {}).get("id") == "sse", 5, 0.05,
               "showing")
    with requests.get(f"{stack.url}/api/events", stream=True, timeout=10) as resp:
        seen = b""
        for chunk in resp.iter_content(chunk_size=None):
            seen += chunk
            if b"event: notifications" in seen and b'"sse"' in seen.split(
                    b"event: notifications", 1)[1]:
                break
    assert b"event: notifications" in seen
    clear(stack)
