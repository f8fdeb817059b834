"""Presets and playlists on the render thread (contract section 8), with FakeClock and the
virtual display at the seams: save/apply/delete, state.preset, playlist order, shuffle,
repeat, cross-fades, next/previous/stop, hand-made changes, snapshot and restore."""

from __future__ import annotations

import json
import random
from typing import Any

import numpy as np
import pytest

from animations import REGISTRY
from appliance.display.virtual import VirtualDisplay
from appliance.render.clock import FakeClock
from appliance.render.engine import Engine
from appliance.settings import validate
from appliance.wire.commands import parse_command
from appliance.wire.look_commands import MAX_PRESETS
from appliance.wire.replies import Reply
from tests.unit.recorder import Recorder

W, H = 16, 8
RED, GREEN, BLUE = "#ff0000", "#00ff00", "#0000ff"



class Box:
    """An engine on a fake clock and a virtual display."""

    def __init__(self, seed: int = 1) -> None:
        self.clock = FakeClock()
        self.pub = Recorder()
        self.display = VirtualDisplay(W, H)
        self.eng = Engine(validate({"device_id": "unit", "animation": {"default": "plasma"}}),
                          self.display, REGISTRY, clock=self.clock, publisher=self.pub)
        self.eng.looks.player.rng = random.Random(seed)
        self.eng.start()
        self.tick()

    def tick(self, seconds: float = 0.0) -> np.ndarray:
        self.clock.advance(seconds)
        self.eng.tick(self.clock.monotonic())
        return self.display.frame().copy()

    def send(self, action: str, payload: Any) -> dict[str, Any]:
        out: list[dict[str, Any]] = []
        raw = payload if isinstance(payload, str) else json.dumps(payload)
        self.eng.submit(parse_command(action, raw.encode()),
                        lambda r: out.append(dict(Reply.as_json(r))))
        self.tick()
        assert len(out) == 1
        return out[0]

    def ok(self, action: str, payload: Any) -> dict[str, Any]:
        r = self.send(action, payload)
        assert r["ok"], r
        return r["state"]  # type: ignore[no-any-return]

    def error(self, action: str, payload: Any) -> dict[str, Any]:
        r = self.send(action, payload)
        assert not r["ok"], r
        return r["error"]  # type: ignore[no-any-return]

    def colour(self) -> tuple[int, int, int]:
        f = self.display.frame()
        return int(f[0, 0, 0]), int(f[0, 0, 1]), int(f[0, 0, 2])

    def solid(self, name: str, colour: str, brightness: int | None = None) -> None:
        body: dict[str, Any] = {"save": name, "animation": "solid", "params": {"color": colour}}
        if brightness is not None:
            body["brightness"] = brightness
        self.ok("preset", body)


def rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


# ---------------------------------------------------------------------- presets
def test_save_the_current_look_and_apply_it_later() -> None:
    box = Box()
    box.ok("animation", {"name": "solid", "params": {"color": RED}})
    box.ok("brightness", 40)
    box.ok("preset", {"save": "Red 40"})
    doc = box.pub.of("presets")[-1]
    assert doc == [{"name": "Red 40", "animation": "solid", "params": {"color": RED},
                    "brightness": 40}]
    assert all(retain for n, _, retain in box.pub.messages if n == "presets")
    box.ok("animation", "plasma")
    box.ok("brightness", 90)
    st = box.ok("preset", {"apply": "Red 40"})
    assert st["effect"] == "solid" and st["params"] == {"color": RED}
    assert st["brightness"] == 40 and st["preset"] == "Red 40"
    box.tick(0.1)
    assert box.colour() == rgb(RED)


def test_a_given_look_is_validated_like_cmd_animation() -> None:
    box = Box()
    err = box.error("preset", {"save": "x", "animation": "nope"})
    assert err["code"] == "unknown_animation" and err["field"] == "animation"
    err = box.error("preset", {"save": "x", "animation": "solid", "params": {"color": "teal!"}})
    assert err["code"] == "invalid_param" and err["field"] == "params.color"
    err = box.error("preset", {"save": "x", "animation": "solid", "params": {"bogus": 1}})
    assert err["code"] == "invalid_param" and err["field"] == "params.bogus"
    assert box.eng.looks.library.presets == {}
    box.ok("preset", {"save": "x", "animation": "solid", "params": {"color": "#FF0000"}})
    assert box.pub.of("presets")[-1][0]["params"] == {"color": RED}  # normalised
    assert box.pub.of("presets")[-1][0]["brightness"] is None  # leaves brightness alone


def test_unknown_preset_errors_name_their_field() -> None:
    box = Box()
    err = box.error("preset", {"apply": "ghost"})
    assert err["code"] == "unknown_preset" and err["field"] == "apply"
    assert "none saved" in err["message"]
    err = box.error("preset", {"delete": "ghost"})
    assert err["code"] == "unknown_preset" and err["field"] == "delete"


def test_at_most_100_presets_and_saving_a_name_again_overwrites() -> None:
    box = Box()
    for n in range(MAX_PRESETS):
        box.eng.looks.library.save_preset(f"p{n}", box.eng.looks.library.presets.get(
            "p0") or _look())
    err = box.error("preset", {"save": "one too many"})
    assert err["code"] == "limit_reached" and err["field"] == "save"
    box.ok("preset", {"save": "p7", "animation": "solid", "params": {"color": BLUE}})
    assert len(box.eng.looks.library.presets) == MAX_PRESETS
    assert box.eng.looks.library.presets["p7"].params == {"color": BLUE}


def _look() -> Any:
    from appliance.wire.look_commands import Look

    return Look("solid", {"color": RED}, None)


def test_state_preset_holds_until_the_look_changes_by_hand_but_not_for_brightness() -> None:
    box = Box()
    box.solid("Red", RED, 50)
    assert box.ok("preset", {"apply": "Red"})["preset"] == "Red"
    assert box.ok("brightness", 20)["preset"] == "Red"
    assert box.ok("power", "OFF")["preset"] == "Red"
    assert box.ok("power", "ON")["preset"] == "Red"
    assert box.ok("params", {"color": BLUE})["preset"] is None
    box.ok("preset", {"apply": "Red"})
    assert box.ok("animation", "plasma")["preset"] is None
    box.ok("preset", {"apply": "Red"})
    assert box.ok("set", {"effect": "fire"})["preset"] is None
    box.ok("preset", {"apply": "Red"})
    assert box.ok("preset", {"delete": "Red"})["preset"] is None


def test_applying_a_preset_turns_the_panel_on_and_calls_the_hand_made_hook() -> None:
    box = Box()
    calls: list[int] = []
    box.eng.looks.on_hand_made = lambda: calls.append(1)
    box.solid("Green", GREEN)
    assert calls == []  # saving changes no look
    box.ok("power", "OFF")
    st = box.ok("preset", {"apply": "Green"})
    assert st["state"] == "ON" and len(calls) == 2


# ---------------------------------------------------------------------- playlists
def two_colours(box: Box, **extra: Any) -> None:
    box.solid("Red", RED)
    box.ok("playlist", {"save": "RB", "items": [
        {"preset": "Red", "duration_s": 5},
        {"animation": "solid", "params": {"color": BLUE}, "duration_s": 3}], **extra})


def test_a_playlist_plays_its_items_for_their_durations_and_repeats() -> None:
    box = Box()
    two_colours(box, transition_s=0)
    st = box.ok("playlist", {"play": "RB"})
    pl = st["playlist"]
    assert pl["name"] == "RB" and pl["index"] == 0 and pl["item"] == "Red"
    assert pl["next_at"] == pytest.approx(box.clock.wall() + 5, abs=0.01)
    assert box.colour() == rgb(RED)
    box.tick(4.9)
    assert box.colour() == rgb(RED)
    box.tick(0.2)
    assert box.colour() == rgb(BLUE)
    assert box.eng.state()["playlist"]["item"] == "solid"  # type: ignore[index]
    box.tick(3.0)
    assert box.colour() == rgb(RED)  # repeat
    assert box.eng.state()["playlist"]["index"] == 0  # type: ignore[index]


def test_without_repeat_it_stops_after_the_last_item_leaving_it_showing() -> None:
    box = Box()
    two_colours(box, transition_s=0, repeat=False)
    box.ok("playlist", {"play": "RB"})
    box.tick(5.1)
    box.tick(3.1)
    assert box.eng.state()["playlist"] is None
    assert box.colour() == rgb(BLUE)
    box.tick(10)
    assert box.colour() == rgb(BLUE)


def test_items_cross_fade_over_transition_s() -> None:
    box = Box()
    two_colours(box, transition_s=2)
    box.ok("playlist", {"play": "RB"})
    box.tick(0.1)
    box.tick(5.0)  # the second item has begun: a second into a 2 s blend
    r, g, b = box.tick(1.0)[0, 0]
    assert 20 < r < 235 and 20 < b < 235 and g == 0
    box.tick(1.5)
    assert box.colour() == rgb(BLUE)


def test_next_previous_and_stop() -> None:
    box = Box()
    two_colours(box, transition_s=0)
    assert box.error("playlist", "next")["code"] == "not_playing"
    box.ok("playlist", {"play": "RB"})
    assert box.ok("playlist", "next")["playlist"]["index"] == 1
    assert box.ok("playlist", "next")["playlist"]["index"] == 0  # wraps (repeat)
    assert box.ok("playlist", "previous")["playlist"]["index"] == 1  # wraps back
    assert box.ok("playlist", "previous")["playlist"]["index"] == 0
    st = box.ok("playlist", "stop")
    assert st["playlist"] is None and st["effect"] == "solid"
    box.tick(60)
    assert box.colour() == rgb(RED)  # the item stays
    assert box.ok("playlist", "stop")["playlist"] is None  # stopping nothing is fine


@pytest.mark.parametrize(("action", "payload"), [
    ("animation", "plasma"), ("set", {"effect": "fire"}), ("preset", {"apply": "Red"})])
def test_a_hand_made_change_of_the_look_stops_the_playlist(action: str, payload: Any) -> None:
    box = Box()
    two_colours(box)
    box.ok("playlist", {"play": "RB"})
    assert box.ok(action, payload)["playlist"] is None
    assert box.pub.of("events")[-1]["event"] == "playlist_ended"


def test_brightness_power_and_params_leave_the_playlist_playing() -> None:
    box = Box()
    two_colours(box)
    box.ok("playlist", {"play": "RB"})
    for action, payload in (("brightness", 30), ("power", "OFF"), ("power", "ON"),
                            ("params", {"color": GREEN})):
        assert box.ok(action, payload)["playlist"] is not None, action


def test_saving_checks_every_item_naming_the_field() -> None:
    box = Box()
    box.solid("Red", RED)
    err = box.error("playlist", {"save": "x", "items": [
        {"preset": "Red", "duration_s": 2}, {"preset": "ghost", "duration_s": 2}]})
    assert err["code"] == "unknown_preset" and err["field"] == "items.1.preset"
    err = box.error("playlist", {"save": "x", "items": [
        {"animation": "nope", "duration_s": 2}]})
    assert err["code"] == "unknown_animation" and err["field"] == "items.0.animation"
    err = box.error("playlist", {"save": "x", "items": [
        {"animation": "plasma", "params": {"speed": 99}, "duration_s": 2}]})
    assert err["code"] == "invalid_param" and err["field"] == "items.0.params.speed"
    assert box.eng.looks.library.playlists == {}
    assert box.error("playlist", {"play": "x"})["field"] == "play"
    assert box.error("playlist", {"delete": "x"})["field"] == "delete"


def test_a_deleted_preset_is_skipped_with_a_warning_event() -> None:
    box = Box()
    two_colours(box, transition_s=0)
    box.ok("preset", {"delete": "Red"})
    st = box.ok("playlist", {"play": "RB"})
    assert st["playlist"]["index"] == 1 and box.colour() == rgb(BLUE)
    skipped = [e for e in box.pub.of("events") if e["event"] == "playlist_item_skipped"]
    assert skipped and skipped[0]["item"] == "Red" and skipped[0]["index"] == 0
    box.tick(3.1)
    assert box.colour() == rgb(BLUE) and box.eng.state()["playlist"]["index"] == 1  # type: ignore[index]


def test_a_playlist_of_only_missing_presets_is_refused_and_changes_nothing() -> None:
    box = Box()
    box.solid("Red", RED)
    box.ok("playlist", {"save": "R", "items": [{"preset": "Red", "duration_s": 2}]})
    box.ok("preset", {"delete": "Red"})
    before = box.eng.state()
    err = box.error("playlist", {"play": "R"})
    assert err["code"] == "playlist_unplayable" and err["field"] == "play"
    assert box.eng.state()["effect"] == before["effect"]


def test_shuffle_gives_each_cycle_a_new_order_fixed_by_the_seed() -> None:
    def orders(seed: int) -> list[int]:
        box = Box(seed)
        box.ok("playlist", {"save": "S", "shuffle": True, "transition_s": 0, "items": [
            {"animation": "solid", "params": {"color": f"#0000{n:02x}"}, "duration_s": 1}
            for n in range(1, 6)]})
        box.ok("playlist", {"play": "S"})
        seen = []
        for _ in range(15):
            seen.append(box.eng.state()["playlist"]["index"])  # type: ignore[index]
            box.tick(1.01)
        return seen

    a = orders(7)
    assert a == orders(7)  # the same seed, the same order
    cycles = [a[0:5], a[5:10], a[10:15]]
    assert all(sorted(c) == [0, 1, 2, 3, 4] for c in cycles)  # every item once a cycle
    assert len({tuple(c) for c in cycles}) > 1  # not the same order every cycle
    assert all(a[i] != a[i + 1] for i in range(len(a) - 1))  # never twice in a row


def test_deleting_the_playing_playlist_stops_it_and_documents_are_retained() -> None:
    box = Box()
    two_colours(box)
    box.ok("playlist", {"play": "RB"})
    doc = box.pub.of("playlists")[-1]
    assert doc[0]["name"] == "RB" and doc[0]["items"][0] == {"preset": "Red", "duration_s": 5}
    assert box.ok("playlist", {"delete": "RB"})["playlist"] is None
    assert box.pub.of("playlists")[-1] == []
    assert all(retain for n, _, retain in box.pub.messages if n in ("presets", "playlists"))


def test_republish_sends_both_documents_from_the_render_thread() -> None:
    box = Box()
    two_colours(box)
    n = len(box.pub.of("presets"))
    box.eng.looks.republish()
    box.tick()
    assert len(box.pub.of("presets")) == n + 1 and box.pub.of("playlists")


def test_step_is_cheap_when_nothing_is_due() -> None:
    box = Box()
    two_colours(box)
    box.ok("playlist", {"play": "RB"})
    version = box.eng.looks.position_version
    for _ in range(100):
        box.eng.looks.step(box.clock.monotonic())
    assert box.eng.looks.position_version == version


# ---------------------------------------------------------------------- the schedule's API
def test_snapshot_and_restore_return_to_the_playlist_item_and_power() -> None:
    box = Box()
    two_colours(box, transition_s=0)
    box.ok("playlist", {"play": "RB"})
    box.ok("playlist", "next")
    snap = box.eng.looks.snapshot()
    assert snap.playlist == "RB" and snap.playlist_index == 1
    calls: list[int] = []
    box.eng.looks.on_hand_made = lambda: calls.append(1)
    box.eng.looks.apply_preset("Red", box.clock.monotonic(), by="schedule")
    assert box.eng.state()["playlist"] is None and calls == []
    box.eng.looks.restore(snap, box.clock.monotonic())
    box.tick()
    assert box.eng.state()["playlist"]["index"] == 1  # type: ignore[index]
    assert box.colour() == rgb(BLUE) and calls == []


def test_restore_without_a_playlist_gives_back_animation_preset_and_power() -> None:
    box = Box()
    box.solid("Red", RED)
    box.ok("preset", {"apply": "Red"})
    box.ok("power", "OFF")
    snap = box.eng.looks.snapshot()
    box.ok("animation", "plasma")
    box.ok("power", "ON")
    box.eng.looks.restore(snap, box.clock.monotonic())
    st = box.eng.state()
    assert st["effect"] == "solid" and st["preset"] == "Red" and st["state"] == "OFF"


def _with_image(tmp_path: Any, rgb: tuple[int, int, int]
                ) -> tuple[Engine, FakeClock, VirtualDisplay, Any, str]:
    """An engine whose image store (in ``tmp_path``) holds one picture of colour ``rgb``."""
    import io

    from PIL import Image

    from appliance.content.images import ImageStore, limits_from

    clock, display = FakeClock(), VirtualDisplay(W, H)
    eng = Engine(validate({"device_id": "unit", "bridge": {"images_dir": str(tmp_path)}}),
                 display, REGISTRY, clock=clock, publisher=Recorder())
    eng.start()
    store = ImageStore(tmp_path, limits_from(eng.settings.bridge))
    png = io.BytesIO()
    Image.new("RGB", (W, H), rgb).save(png, "PNG")
    return eng, clock, display, store, store.save(png.getvalue(), "picture", W, H).id


def test_a_playlists_images_are_decoded_off_the_render_thread(tmp_path: Any) -> None:
    eng, clock, display, store, image_id = _with_image(tmp_path, (0, 255, 0))
    for raw in (json.dumps({"save": "P", "transition_s": 0, "items": [
            {"animation": "solid", "params": {"color": RED}, "duration_s": 2},
            {"animation": "image", "params": {"image": image_id}, "duration_s": 2}]}),
                json.dumps({"play": "P"})):
        eng.submit(parse_command("playlist", raw.encode()))
        eng.tick(clock.monotonic())
    eng.looks.preload()  # the service's timer thread
    assert list(eng.looks.frames.cache) == [image_id]
    store.delete(image_id)  # gone from disk: the item must not need the file
    clock.advance(2.1)
    eng.tick(clock.monotonic())
    assert eng.state()["playlist"]["index"] == 1  # type: ignore[index]
    assert (display.frame()[..., 1] == 255).all()
    eng.submit(parse_command("playlist", b"stop"))
    eng.tick(clock.monotonic())
    eng.looks.preload()
    assert eng.looks.frames.cache == {}  # only the playing playlist's images are kept


def test_the_state_version_goes_up_when_a_playlist_moves_on_by_itself() -> None:
    box = Box()
    two_colours(box, transition_s=0)
    box.ok("playlist", {"play": "RB"})
    before = box.eng.state()["version"]
    box.tick(5.1)
    assert box.eng.state()["version"] > before
    assert box.pub.of("state")[-1]["playlist"]["index"] == 1


def test_an_image_preset_applied_by_hand_is_read_when_submitted(tmp_path: Any) -> None:
    """``cmd/preset apply`` of an image preset decodes on the submitting thread: the file
    may be gone by the time the render loop applies it."""
    eng, clock, display, store, image_id = _with_image(tmp_path, (0, 0, 255))
    eng.submit(parse_command("preset", json.dumps(
        {"save": "Pic", "animation": "image", "params": {"image": image_id}}).encode()))
    eng.tick(clock.monotonic())
    eng.submit(parse_command("preset", b'{"apply": "Pic"}'))  # read here, on submit
    store.delete(image_id)  # gone before the render loop gets to it
    eng.tick(clock.monotonic())
    assert eng.state()["preset"] == "Pic"
    assert (display.frame()[..., 2] == 255).all()
