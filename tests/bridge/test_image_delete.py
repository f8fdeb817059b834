"""Deleting the image on the panel, against the real broker, engine and bridge.

The engine owns what is shown: it notices the deleted picture, switches to its
default animation and says so on ``events``; the state never names a missing id.
An image is no Home Assistant effect, and ``image`` without a picture is refused.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.bridge import images_util
from tests.bridge.conftest import Stack
from tests.support import MQTTProbe

pytestmark = pytest.mark.integration


def upload(stack: Stack, name: str) -> str:
    r = stack.session.post(f"{stack.url}/api/images", timeout=20,
                           files={"file": (name, images_util.png(), "image/png")})
    assert r.status_code == 201, r.text
    image_id: str = r.json()["id"]
    return image_id


def test_deleting_the_playing_image_brings_back_the_default(
        stack: Stack, mqtt_watch: Callable[[str], MQTTProbe]) -> None:
    watch = mqtt_watch(stack.base)
    image_id = upload(stack, "on-air.png")
    r = stack.post("/api/animation", {"name": "image", "params": {"image": image_id}})
    assert r.status_code == 200, r.text
    since = watch.mark()
    r = stack.send("DELETE", f"/api/images/{image_id}")
    assert r.status_code == 200, r.text
    state = watch.wait_for(f"{stack.base}/state", lambda s: s["effect"] != "image", 10, since)
    default = stack.get("/api/config").json()["settings"]["animation"]["default"]
    assert state["effect"] == default and "image" not in state["params"]
    event = watch.wait_for(f"{stack.base}/events",
                           lambda e: e.get("event") == "image_deleted", 5, since)
    assert event["image"] == image_id and event["animation"] == default
    assert stack.get("/api/state").json()["effect"] == default


def test_image_without_a_picture_is_refused_over_http(stack: Stack) -> None:
    before = stack.get("/api/state").json()
    r = stack.post("/api/animation", {"name": "image"})
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "invalid_param" and "uploaded image" in err["message"]
    after = stack.get("/api/state").json()
    assert after["effect"] == before["effect"]


def test_home_assistant_is_not_offered_image_as_an_effect(
        stack: Stack, mqtt_watch: Callable[[str], MQTTProbe]) -> None:
    watch = mqtt_watch(stack.base)
    watch.subscribe(f"homeassistant/device/lightbox_{stack.device_id}/config")
    doc = watch.wait_for(f"homeassistant/device/lightbox_{stack.device_id}/config", None, 10)
    effects = doc["cmps"]["light"]["effect_list"]
    assert "image" not in effects and "plasma" in effects
    assert "image" not in doc["cmps"]["animation"]["options"]
