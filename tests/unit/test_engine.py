"""Render loop with fakes at the seams: FakeClock, VirtualDisplay, a recording publisher."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from animations import REGISTRY, Animation, Param
from appliance.content.images import ImageStore, limits_from
from appliance.display.virtual import VirtualDisplay
from appliance.render.clock import FakeClock
from appliance.render.engine import Engine
from appliance.render.loop import CommandQueue, Pending
from appliance.render.panel import Fade
from appliance.settings import Settings, validate
from appliance.wire.commands import Command, Meta, SetBrightness, SetParams, parse_command
from appliance.wire.replies import Reply
from tests.unit.recorder import Recorder


class Explodes(Animation):
    name = "explodes_unit"
    title = "Explodes"
    params = (Param("after", "int", 0, min=0, max=1000),)

    def setup(self) -> None:
        self.calls = 0

    def draw(self, t: float) -> np.ndarray:
        self.calls += 1
        if self.calls > self.p["after"]:
            raise RuntimeError("boom")
        return np.full((self.height, self.width, 3), 7, np.uint8)


class Garbage(Animation):
    name = "garbage_unit"
    title = "Garbage"

    def draw(self, t: float) -> np.ndarray:
        return np.zeros((3, 3), np.float64)  # wrong shape


@pytest.fixture(autouse=True)
def _test_animations() -> Any:
    REGISTRY.register(Explodes)
    REGISTRY.register(Garbage)
    yield
    REGISTRY.unregister("explodes_unit")
    REGISTRY.unregister("garbage_unit")


def make_engine(**sections: Any) -> tuple[Engine, VirtualDisplay, FakeClock, Recorder]:
    settings = validate({"device_id": "unit", **sections})
    display = VirtualDisplay(16, 8)
    clock = FakeClock()
    pub = Recorder()
    eng = Engine(settings, display, REGISTRY, clock=clock, publisher=pub)
    eng.start()
    return eng, display, clock, pub


def into(replies: list[dict[str, Any]]) -> Callable[[Reply], None]:
    """Collect reply bodies as they would go on the wire."""
    return lambda reply: replies.append(reply.as_json())


def cmd(action: str, payload: str) -> Command:
    return parse_command(action, payload.encode())


def test_frames_are_paced_at_the_configured_rate_without_drift() -> None:
    eng, display, clock, _ = make_engine(display={"fps": 30})
    t0 = clock.monotonic()
    eng.run(threading.Event(), max_frames=301)
    # 300 sleeps of 1/30 s: exactly 10 s of fake time, no drift, nothing dropped.
    assert clock.monotonic() - t0 == pytest.approx(10.0, abs=1e-6)
    assert display.frames_shown == 301
    assert eng.stats.frames_dropped == 0


def test_late_frames_are_counted_as_dropped_and_do_not_burst() -> None:
    eng, _, clock, _ = make_engine(display={"fps": 10})
    real_tick = eng.tick

    def slow_tick(now: float) -> None:
        real_tick(now)
        clock.advance(0.35)  # each frame costs 3.5 frame periods

    eng.tick = slow_tick  # type: ignore[method-assign]
    eng.run(threading.Event(), max_frames=5)
    assert eng.stats.frames_dropped == 4 * 3  # 3 missed slots after each of 4 late frames


def test_commands_are_applied_between_frames_and_state_is_published() -> None:
    eng, _, clock, pub = make_engine()
    replies: list[dict[str, Any]] = []
    eng.submit(cmd("animation", '{"name":"solid","params":{"color":"#ff0000"}}'), into(replies))
    eng.tick(clock.monotonic())
    assert replies[0]["ok"] is True
    assert replies[0]["state"]["effect"] == "solid"
    assert pub.of("state")[-1]["params"] == {"color": "#ff0000"}
    assert np.all(eng.display.frame()[..., 0] == 255)  # type: ignore[attr-defined]


def test_a_burst_is_coalesced_and_the_last_value_wins() -> None:
    eng, _, clock, pub = make_engine()
    before = len(pub.of("state"))
    for i in range(1, 101):
        eng.submit(cmd("brightness", str(i)))
    eng.tick(clock.monotonic())
    assert eng.panel.brightness_pct == 100
    assert len(pub.of("state")) == before + 1  # one state for the whole burst


def test_a_full_queue_drops_the_oldest_and_tells_its_sender() -> None:
    q = CommandQueue(maxlen=3)
    told: list[dict[str, Any]] = []
    for i in range(5):
        q.put(Pending(SetBrightness(i + 1), into(told)))
    assert [p.command.pct for p in q.drain()]  # type: ignore[union-attr] == [3, 4, 5]
    assert q.dropped == 2
    assert [r["error"]["code"] for r in told] == ["superseded", "superseded"]


def test_a_bad_command_changes_nothing() -> None:
    eng, _, clock, _ = make_engine()
    eng.tick(clock.monotonic())
    before = eng.state()
    replies: list[dict[str, Any]] = []
    eng.submit(cmd("animation", '{"name":"plasma","params":{"speed":99}}'), into(replies))
    eng.submit(cmd("animation", '{"name":"nope"}'), into(replies))
    eng.submit(cmd("params", '{"sped":1}'), into(replies))
    eng.tick(clock.monotonic())
    assert [r["ok"] for r in replies] == [False, False, False]
    assert replies[0]["error"]["field"] == "params.speed"
    assert replies[1]["error"]["code"] == "unknown_animation"
    assert replies[2]["error"]["field"] == "params.sped"
    assert eng.state() == before
    assert eng.counters.commands_rejected_total == 3


def test_set_with_ha_json_light_fields() -> None:
    eng, _, clock, _ = make_engine()
    eng.submit(cmd("set", '{"state":"ON","brightness":40,"effect":"breathe","transition":2}'))
    eng.tick(clock.monotonic())
    st = eng.state()
    assert (st["state"], st["brightness"], st["effect"]) == ("ON", 40, "breathe")
    eng.submit(cmd("set", '{"state":"OFF"}'))
    eng.tick(clock.monotonic())
    assert eng.state()["state"] == "OFF"
    assert eng.state()["brightness"] == 40
    assert not eng.display.frame().any()  # type: ignore[attr-defined]


def test_brightness_zero_turns_off_and_keeps_the_level() -> None:
    eng, display, clock, _ = make_engine()
    eng.submit(cmd("brightness", "35"))
    eng.submit(cmd("brightness", "0"))
    eng.tick(clock.monotonic())
    assert eng.state()["state"] == "OFF" and eng.state()["brightness"] == 35
    eng.submit(cmd("power", "TOGGLE"))
    eng.tick(clock.monotonic())
    assert eng.state()["state"] == "ON" and display.brightness_pct == 35


def test_failing_animation_falls_back_in_the_same_frame_and_is_quarantined() -> None:
    eng, display, clock, pub = make_engine(animation={"quarantine_failures": 3})
    eng.submit(cmd("animation", '{"name":"explodes_unit","params":{"after":2}}'))
    frames = []
    for _ in range(8):
        eng.tick(clock.monotonic())
        frames.append(display.frames_shown)
        clock.advance(1 / 30)
    assert frames == list(range(1, 9))  # the display never missed a frame
    assert eng.counters.animation_errors_total == 3
    snap = eng.snapshot()
    assert snap["quarantined"] == ["explodes_unit"]
    assert eng.state()["active"] == "breathe"
    names = [e["event"] for e in pub.of("events")]
    assert "animation_failed" in names and "fallback_activated" in names
    assert "animation_quarantined" in names


def test_garbage_frames_are_rejected_by_the_choke_point_and_replaced() -> None:
    eng, display, clock, pub = make_engine()
    eng.submit(cmd("animation", "garbage_unit"))
    eng.tick(clock.monotonic())
    assert display.frames_shown == 1
    ev = next(e for e in pub.of("events") if e["event"] == "animation_failed")
    assert ev["kind"] == "garbage" and "shape" in ev["error"]


def test_display_failure_retries_with_back_off_and_recovers() -> None:
    eng, display, clock, pub = make_engine(display={"retry_initial_s": 1, "retry_max_s": 4})
    display.fail_with("cable on fire")
    delays = []
    for _ in range(200):
        eng.tick(clock.monotonic())
        clock.advance(0.1)
        if eng.display_state.retry_delay_s and (
            not delays or delays[-1] != eng.display_state.retry_delay_s
        ):
            delays.append(eng.display_state.retry_delay_s)
    assert delays[:4] == [1.0, 2.0, 4.0]  # doubling, capped at retry_max_s
    assert eng.snapshot()["display_ok"] is False
    display.recover()
    for _ in range(60):
        eng.tick(clock.monotonic())
        clock.advance(0.1)
    assert eng.snapshot()["display_ok"] is True
    assert any(e["event"] == "display_recovered" for e in pub.of("events"))


def test_start_at_delays_the_switch_until_the_wall_clock_time() -> None:
    eng, _, clock, _ = make_engine()
    start_at = clock.wall() + 2.0
    eng.submit(parse_command("animation", f'{{"name":"solid","start_at":{start_at}}}'.encode(),
                             now=clock.wall()))
    eng.tick(clock.monotonic())
    assert eng.supervisor.requested is not None and eng.supervisor.requested.name == "plasma"
    assert eng.state()["effect"] == "solid"  # announced as what will play
    clock.advance(2.0)
    eng.tick(clock.monotonic())
    assert eng.supervisor.requested.name == "solid"


def test_events_are_rate_limited_and_suppression_is_counted() -> None:
    eng, _, _, pub = make_engine(health={"events_per_minute": 5})
    for i in range(20):
        eng.event("command_rejected", n=i)
    assert len(pub.of("events")) == 5
    assert eng.events.suppressed_total == 15


def test_shutdown_darkens_the_panel() -> None:
    eng, display, clock, _ = make_engine()
    eng.submit(cmd("animation", '{"name":"solid","params":{"color":"#ffffff"}}'))
    eng.tick(clock.monotonic())
    assert display.frame().all()
    eng.shutdown()
    assert not display.frame().any()


def test_settings_defaults_are_valid() -> None:
    assert Settings().display.fps == 30


def test_home_assistant_transition_fades_brightness_over_its_seconds() -> None:
    eng, display, clock, _ = make_engine()
    eng.submit(cmd("brightness", "20"))
    eng.tick(clock.monotonic())
    assert display.brightness_pct == 20
    eng.submit(cmd("set", '{"brightness": 80, "transition": 2}'))
    eng.tick(clock.monotonic())
    assert eng.state()["brightness"] == 80  # the state says the target at once
    seen = []
    for _ in range(70):
        clock.advance(1 / 30)
        eng.tick(clock.monotonic())
        seen.append(display.brightness_pct)
    assert seen[29] == pytest.approx(50, abs=2)  # half way after 1 s
    assert seen == sorted(seen) and seen[-1] == 80 and eng.panel.fade is None


def test_off_with_a_transition_fades_out_then_goes_dark() -> None:
    eng, display, clock, _ = make_engine()
    eng.submit(cmd("animation", '{"name":"solid","params":{"color":"#ffffff"}}'))
    eng.tick(clock.monotonic())
    eng.submit(cmd("set", '{"state": "OFF", "transition": 1}'))
    for _ in range(3):
        clock.advance(1 / 30)
        eng.tick(clock.monotonic())
    assert eng.state()["state"] == "OFF"
    assert display.frame().any() and display.brightness_pct < 80  # still fading
    for _ in range(40):
        clock.advance(1 / 30)
        eng.tick(clock.monotonic())
    assert not display.frame().any()  # dark once the transition is over
    eng.submit(cmd("set", '{"state": "ON"}'))  # no transition: at once
    clock.advance(1 / 30)
    eng.tick(clock.monotonic())
    assert display.frame().all() and display.brightness_pct == 80


def test_call_returns_a_future_the_render_loop_resolves_with_the_reply() -> None:
    eng, _, clock, _ = make_engine()
    ok = eng.call(SetBrightness(30, meta=Meta("t1")))
    bad = eng.call(SetParams({"sped": 1}, meta=Meta("t2")))
    assert not ok.done() and not bad.done()  # only the render loop answers
    eng.tick(clock.monotonic())
    reply = ok.result(timeout=0)
    assert reply.ok and reply.transaction == "t1"
    assert reply.state is not None and reply.state["brightness"] == 30
    err = bad.result(timeout=0).error
    assert err is not None and err.code == "invalid_param"


def test_an_image_is_decoded_before_its_command_reaches_the_render_thread(
        tmp_path: Path) -> None:
    eng, display, clock, _ = make_engine(bridge={"images_dir": str(tmp_path)})
    store = ImageStore(tmp_path, limits_from(eng.settings.bridge))
    png = io.BytesIO()
    Image.new("RGB", (16, 8), (0, 0, 255)).save(png, "PNG")
    image_id = store.save(png.getvalue(), "blue", 16, 8).id
    replies: list[dict[str, Any]] = []
    eng.submit(cmd("animation", f'{{"name":"image","params":{{"image":"{image_id}"}}}}'),
               into(replies))
    store.delete(image_id)  # gone from disk: the render thread must not need the file
    eng.submit(cmd("params", '{"speed":2}'), into(replies))
    eng.tick(clock.monotonic())
    assert [r["ok"] for r in replies] == [True, True]
    assert np.all(display.frame()[..., 2] == 255)  # type: ignore[attr-defined]
    eng.submit(cmd("animation", f'{{"name":"image","params":{{"image":"{image_id}"}}}}'),
               into(replies))
    eng.tick(clock.monotonic())
    assert replies[-1]["error"]["code"] == "unknown_image"


def test_a_fade_is_a_value_that_knows_its_level() -> None:
    fade = Fade(from_level=0.0, to_level=80.0, start=10.0, seconds=2.0)
    assert [fade.level(t) for t in (9.0, 10.0, 11.0, 12.0, 13.0)] == [0.0, 0.0, 40.0, 80.0, 80.0]
    assert not fade.done(11.9) and fade.done(12.0)


def test_identify_is_a_layer_above_the_dark_panel() -> None:
    eng, display, clock, _ = make_engine()
    eng.submit(cmd("power", "OFF"))
    eng.tick(clock.monotonic())
    assert not display.frame().any()  # type: ignore[attr-defined]
    eng.submit(cmd("identify", '{"seconds":1}'))
    eng.tick(clock.monotonic())
    assert np.all(display.frame() == 255)  # type: ignore[attr-defined]
    clock.advance(1.0)
    eng.tick(clock.monotonic())
    assert not display.frame().any()  # type: ignore[attr-defined]


def test_a_state_republish_asked_from_another_thread_is_sent_by_the_next_frame() -> None:
    """A reconnect or Home Assistant's restart asks for ``state`` from the MQTT thread; the
    render thread sends it, so a state taken before a change is never sent after it."""
    eng, _, clock, pub = make_engine()
    clock.advance(1 / 30)
    eng.tick(clock.monotonic())
    sent = len(pub.of("state"))
    asker = threading.Thread(target=eng.state_changed)
    asker.start()
    asker.join()
    assert len(pub.of("state")) == sent  # nothing sent from the asking thread
    eng.submit(cmd("brightness", "42"))
    clock.advance(1 / 30)
    eng.tick(clock.monotonic())
    states = pub.of("state")
    assert len(states) == sent + 1 and states[-1]["brightness"] == 42
    clock.advance(1 / 30)
    eng.tick(clock.monotonic())
    assert len(pub.of("state")) == sent + 1  # once, not once a frame
