"""The layer stack and the notification layer in a real engine, on a fake clock."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from animations import REGISTRY
from animations.font import FONT_5X7
from appliance.content import icons
from appliance.content.images import ImageStore, limits_from
from appliance.display.virtual import VirtualDisplay
from appliance.render.banner import Banner, Look, band_rows, text_bitmap
from appliance.render.clock import FakeClock
from appliance.render.engine import Engine
from appliance.settings import validate
from appliance.wire.commands import parse_command
from appliance.wire.replies import Reply
from tests.unit.recorder import Recorder

W, H = 64, 32



def make_engine() -> tuple[Engine, VirtualDisplay, FakeClock, Recorder]:
    settings_ = validate({"device_id": "unit", "animation": {"default": "plasma"}})
    display = VirtualDisplay(W, H)
    clock = FakeClock()
    pub = Recorder()
    eng = Engine(settings_, display, REGISTRY, clock=clock, publisher=pub)
    eng.start()
    return eng, display, clock, pub


def frame_at(eng: Engine, clock: FakeClock, seconds: float = 0.0) -> np.ndarray:
    clock.advance(seconds)
    eng.tick(clock.monotonic())
    assert isinstance(eng.display, VirtualDisplay)
    return eng.display.frame().copy()


def send(eng: Engine, action: str, payload: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def answer(reply: Reply) -> None:
        out.append(dict(reply.as_json()))

    eng.submit(parse_command(action, payload.encode()), answer)
    return out


def plasma_alone(t_offset: float) -> np.ndarray:
    """What plasma draws on its own at the same moment (a second engine, same clock)."""
    eng, _, clock, _ = make_engine()
    return frame_at(eng, clock, t_offset)


def test_a_banner_covers_only_its_band_and_the_animation_shows_outside_it() -> None:
    eng, _, clock, pub = make_engine()
    started = eng.state()["started_at"]
    replies = send(eng, "notify", '{"text":"Door","id":"door","background":"#000080"}')
    frame = frame_at(eng, clock, 1.0)
    assert replies[0]["ok"] and replies[0]["notification"] == {"id": "door"}
    y0, rows = band_rows(H, FONT_5X7, "banner")
    alone = plasma_alone(1.0)
    assert np.array_equal(frame[:y0], alone[:y0])  # outside the band: the animation's pixels
    assert not np.array_equal(frame[y0:], alone[y0:])
    assert (frame[y0:y0 + rows] == (0, 0, 128)).all(axis=2).mean() > 0.5  # the background
    assert eng.state()["notification"] == "door"
    assert pub.of("notifications")[-1]["active"]["id"] == "door"
    frame = frame_at(eng, clock, 8.0)
    assert eng.state()["notification"] is None
    assert np.array_equal(frame, plasma_alone(9.0))  # gone: the animation, not restarted
    assert eng.state()["started_at"] == started
    assert pub.of("notifications")[-1] == {"active": None, "queue": []}
    shown = [p for p in pub.of("events") if p.get("event", "").startswith("notification")]
    assert [e["event"] for e in shown] == ["notification_shown", "notification_ended"]


def test_without_background_only_the_glyphs_are_drawn() -> None:
    eng, _, clock, _ = make_engine()
    send(eng, "notify", '{"text":"I","color":"#ff0000"}')
    frame = frame_at(eng, clock, 1.0)
    alone = plasma_alone(1.0)
    changed = (frame != alone).any(axis=2)
    assert 0 < changed.sum() <= FONT_5X7.width * FONT_5X7.height
    assert (frame[changed] == (255, 0, 0)).all()


def test_the_state_has_the_new_layer_keys() -> None:
    eng, _, _, _ = make_engine()
    state = eng.state()
    assert state["preset"] is None and state["playlist"] is None
    assert state["live"] == {"active": False, "protocol": None, "source": None, "fps": 0,
                             "mode": "auto"}
    assert state["notification"] is None


def test_wake_lights_the_dark_panel_then_it_goes_dark_again() -> None:
    eng, _, clock, pub = make_engine()
    send(eng, "power", "OFF")
    assert not frame_at(eng, clock).any()
    send(eng, "notify", '{"text":"asleep","id":"a"}')
    send(eng, "notify", '{"text":"Wake","id":"w","wake":true,"duration_s":2}')
    assert frame_at(eng, clock, 0.5).any()
    drops = [e for e in pub.of("events") if e.get("event") == "notification_dropped"]
    assert [(e["id"], e["reason"]) for e in drops] == [("a", "power_off")]
    assert not frame_at(eng, clock, 2.0).any()
    assert eng.state()["state"] == "OFF"


def test_unknown_icon_is_refused_naming_the_field() -> None:
    eng, _, clock, _ = make_engine()
    replies = send(eng, "notify", '{"text":"x","icon":"no-such-icon"}')
    frame_at(eng, clock)
    assert replies[0]["ok"] is False
    assert replies[0]["error"]["code"] == "invalid_param"
    assert replies[0]["error"]["field"] == "icon"


def test_dismiss_of_an_unknown_id_is_refused_and_of_nothing_showing_is_fine() -> None:
    eng, _, clock, _ = make_engine()
    unknown = send(eng, "notify/dismiss", "nope")
    nothing = send(eng, "notify/dismiss", "")
    frame_at(eng, clock)
    assert unknown[0]["error"]["code"] == "unknown_notification"
    assert unknown[0]["error"]["field"] == "id"
    assert nothing[0]["ok"] is True


def test_a_missing_glyph_is_a_visible_box() -> None:
    bm = text_bitmap(FONT_5X7, "\ue000")  # private use: in no font
    assert bm.any() and np.array_equal(bm, FONT_5X7.box)


def test_long_text_scrolls_by_time() -> None:
    look = Look()
    banner = Banner("a long line of text that does not fit", look, W, H, 8.0)
    assert banner.scrolls
    xs = [banner.text_x(t) for t in (0.0, 0.01, 1.0, 2.0)]
    assert xs[0] > xs[1] > xs[2] > xs[3]
    assert xs[0] - xs[1] < 1.0  # sub-pixel steps: a position from the time


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(min_size=1, max_size=280),
       colour=st.tuples(*[st.integers(0, 255)] * 3),
       background=st.none() | st.tuples(*[st.integers(0, 255)] * 3),
       position=st.sampled_from(["banner", "fullscreen"]),
       elapsed=st.floats(0, 4000))
def test_any_text_and_colour_draws_a_uint8_frame(text: str, colour: tuple[int, int, int],
                                                 background: tuple[int, int, int] | None,
                                                 position: str, elapsed: float) -> None:
    frame = np.full((H, W, 3), 40, np.uint8)
    look = Look(colour, background, position, None)  # type: ignore[arg-type]
    Banner(text, look, W, H, 8.0).draw(frame, elapsed)
    assert frame.dtype == np.uint8 and frame.shape == (H, W, 3)


def _png(rgb: tuple[int, int, int], size: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), rgb).save(buf, "PNG")
    return buf.getvalue()


def test_a_builtin_icon_is_drawn_left_of_the_text() -> None:
    assert "bell" in icons.names()
    eng, _, clock, _ = make_engine()
    replies = send(eng, "notify", '{"text":"hi","icon":"bell","background":"#000000"}')
    frame = frame_at(eng, clock, 0.5)
    assert replies[0]["ok"], replies
    y0, rows = band_rows(H, FONT_5X7, "banner")
    bell = icons.icon("bell", 8)
    assert bell is not None
    top = y0 + (rows - 8) // 2
    assert np.array_equal(frame[top : top + 8, 1:9], bell)  # on black: the icon exactly


def test_an_uploaded_image_id_is_an_icon_too(tmp_path: Path) -> None:
    settings_ = validate({"device_id": "unit", "animation": {"default": "plasma"},
                          "bridge": {"images_dir": str(tmp_path)}})
    store = ImageStore(tmp_path, limits_from(settings_.bridge))
    info = store.save(_png((0, 255, 255), 32), "cyan.png", W, H)
    clock = FakeClock()
    eng = Engine(settings_, VirtualDisplay(W, H), REGISTRY, clock=clock, publisher=Recorder())
    eng.start()
    replies = send(eng, "notify", json.dumps({"text": "x", "icon": info.id}))
    frame = frame_at(eng, clock, 0.5)
    assert replies[0]["ok"], replies
    assert (frame == (0, 255, 255)).all(axis=2).sum() >= 64


def test_booted_off_the_panel_can_still_light_for_a_wake_notification() -> None:
    settings_ = validate({"device_id": "unit", "animation": {"default": "plasma"}})
    display = VirtualDisplay(W, H)
    clock = FakeClock()
    eng = Engine(settings_, display, REGISTRY, clock=clock, publisher=Recorder())
    eng.start({"power_on": False, "brightness": 40})
    assert not frame_at(eng, clock).any()
    send(eng, "notify", '{"text":"Wake","wake":true,"background":"#ff0000"}')
    assert frame_at(eng, clock, 0.1).any()
    assert display.brightness_pct == 40 and eng.state()["state"] == "OFF"
