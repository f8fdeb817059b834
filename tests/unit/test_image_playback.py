"""What the engine shows around stored images: never a bare, dark `image`; a deleted one is left."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from animations import REGISTRY
from appliance.content.images import ImageStore
from appliance.display.virtual import VirtualDisplay
from appliance.render.clock import FakeClock
from appliance.render.engine import Engine
from appliance.settings import validate
from appliance.wire.commands import parse_command
from appliance.wire.replies import Reply
from tests.bridge import images_util
from tests.unit.recorder import Recorder


def make_engine(images: Path, **animation: Any) -> tuple[Engine, FakeClock, Recorder]:
    settings = validate({"device_id": "unit", "bridge": {"images_dir": str(images)},
                         "animation": {"default": "plasma", **animation}})
    clock, pub = FakeClock(), Recorder()
    eng = Engine(settings, VirtualDisplay(16, 8), REGISTRY, clock=clock, publisher=pub)
    eng.start()
    return eng, clock, pub


def play(eng: Engine, clock: FakeClock, payload: str) -> dict[str, Any]:
    replies: list[Reply] = []
    eng.submit(parse_command("animation", payload.encode()), replies.append)
    eng.tick(clock.monotonic())
    return replies[0].as_json()


def test_image_without_a_picture_is_refused_not_shown_dark(tmp_path: Path) -> None:
    eng, clock, _ = make_engine(tmp_path / "images")
    reply = play(eng, clock, '{"name":"image"}')
    assert reply["ok"] is False
    assert reply["error"]["field"] == "params.image"
    assert "uploaded image" in reply["error"]["message"]
    assert eng.supervisor.requested is not None and eng.supervisor.requested.name == "plasma"


def test_a_deleted_playing_image_gives_way_to_the_default_with_an_event(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "images")
    info = store.save(images_util.png((0, 255, 0), (16, 8)), "green.png", 16, 8)
    eng, clock, pub = make_engine(tmp_path / "images")
    reply = play(eng, clock, f'{{"name":"image","params":{{"image":"{info.id}"}}}}')
    assert reply["ok"] is True and reply["state"]["params"]["image"] == info.id
    assert np.all(eng.display.frame()[..., 1] == 255)  # type: ignore[attr-defined]
    for _ in range(3):  # still there: it keeps playing
        clock.advance(1.0)
        eng.watch_image()  # the service's timer thread asks, the render loop acts
        eng.tick(clock.monotonic())
    assert eng.supervisor.requested is not None and eng.supervisor.requested.name == "image"

    store.delete(info.id)
    clock.advance(1.0)
    eng.watch_image()
    eng.tick(clock.monotonic())
    assert eng.supervisor.requested is not None and eng.supervisor.requested.name == "plasma"
    state = pub.of("state")[-1]
    assert state["effect"] == "plasma" and "image" not in state["params"]
    events = [e for e in pub.of("events") if e.get("event") == "image_deleted"]
    assert events and events[-1]["image"] == info.id and events[-1]["animation"] == "plasma"


def test_when_the_default_is_the_deleted_image_the_fallback_shows(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "images")
    info = store.save(images_util.png((0, 0, 255), (16, 8)), "blue.png", 16, 8)
    eng, clock, _ = make_engine(tmp_path / "images", default="image", fallback="breathe",
                                params={"image": {"image": info.id}})
    assert eng.supervisor.requested is not None and eng.supervisor.requested.name == "image"
    store.delete(info.id)
    clock.advance(1.0)
    eng.watch_image()
    eng.tick(clock.monotonic())
    assert eng.supervisor.requested is not None and eng.supervisor.requested.name == "breathe"


def test_boot_with_a_deleted_image_starts_the_default(tmp_path: Path) -> None:
    settings = validate({"device_id": "unit", "bridge": {"images_dir": str(tmp_path)},
                         "animation": {"default": "plasma"}})
    eng = Engine(settings, VirtualDisplay(16, 8), REGISTRY, clock=FakeClock())
    eng.start({"effect": "image", "params": {"image": "0123456789abcdef"}})
    assert eng.supervisor.requested is not None and eng.supervisor.requested.name == "plasma"


def test_a_default_image_that_is_gone_boots_the_fallback(tmp_path: Path) -> None:
    settings = validate({"device_id": "unit", "bridge": {"images_dir": str(tmp_path)},
                         "animation": {"default": "image", "fallback": "breathe",
                                       "params": {"image": {"image": "0123456789abcdef"}}}})
    eng = Engine(settings, VirtualDisplay(16, 8), REGISTRY, clock=FakeClock())
    eng.start()
    assert eng.supervisor.requested is not None and eng.supervisor.requested.name == "breathe"
