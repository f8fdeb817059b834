"""Cross-fades (contract section 6): ``set`` with a ``transition`` and a new effect blends the
old animation into the new one; FakeClock and VirtualDisplay at the seams."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from animations import REGISTRY, Animation, Param
from appliance.display.virtual import VirtualDisplay
from appliance.render.clock import FakeClock
from appliance.render.crossfade import CrossFade
from appliance.render.engine import Engine
from appliance.settings import validate
from appliance.wire.commands import Command, parse_command

RED = '{"effect":"solid","params":{"color":"#ff0000"}'
BLUE = '{"name":"solid","params":{"color":"#0000ff"}}'
STEP = 1 / 30


class Clocked(Animation):
    """Shows its own clock: every pixel is t (in tenths of a second), t recorded."""

    name = "clocked_unit"
    title = "Clocked"

    def setup(self) -> None:
        self.ts: list[float] = []

    def draw(self, t: float) -> np.ndarray:
        self.ts.append(t)
        return np.full((self.height, self.width, 3), min(255.0, t * 10), np.float32)


class Breaks(Animation):
    """Draws grey, then raises once ``after`` frames are drawn."""

    name = "breaks_unit"
    title = "Breaks"
    params = (Param("after", "int", 0, min=0, max=1000),)

    def setup(self) -> None:
        self.calls = 0

    def draw(self, t: float) -> np.ndarray:
        self.calls += 1
        if self.calls > self.p["after"]:
            raise RuntimeError("boom")
        return np.full((self.height, self.width, 3), 100, np.uint8)


@pytest.fixture(autouse=True)
def _test_animations() -> Any:
    REGISTRY.register(Clocked)
    REGISTRY.register(Breaks)
    yield
    REGISTRY.unregister("clocked_unit")
    REGISTRY.unregister("breaks_unit")


def cmd(action: str, payload: str) -> Command:
    return parse_command(action, payload.encode())


def make_engine(**sections: Any) -> tuple[Engine, VirtualDisplay, FakeClock]:
    display = VirtualDisplay(16, 8)
    clock = FakeClock()
    eng = Engine(validate({"device_id": "unit", **sections}), display, REGISTRY, clock=clock)
    eng.start()
    return eng, display, clock


def send(eng: Engine, clock: FakeClock, action: str, payload: str) -> None:
    eng.submit(cmd(action, payload))
    eng.tick(clock.monotonic())


def run(eng: Engine, clock: FakeClock, seconds: float) -> None:
    for _ in range(round(seconds / STEP)):
        clock.advance(STEP)
        eng.tick(clock.monotonic())


def pixel(display: VirtualDisplay) -> tuple[int, int, int]:
    frame = display.frame()
    assert (frame == frame[0, 0]).all()  # every test animation here is one flat colour
    r, g, b = (int(v) for v in frame[0, 0])
    return r, g, b


def near(px: tuple[int, int, int], want: tuple[int, int, int]) -> bool:
    """Equal to within one step (float sums of 1/30 s land either side of a half)."""
    return all(abs(a - b) <= 1 for a, b in zip(px, want, strict=True))


def over_blue(**sections: Any) -> tuple[Engine, VirtualDisplay, FakeClock]:
    eng, display, clock = make_engine(**sections)
    send(eng, clock, "animation", BLUE)
    assert pixel(display) == (0, 0, 255)
    return eng, display, clock


def test_a_crossfade_is_a_value_whose_weight_rises_linearly() -> None:
    fade = CrossFade(start=10.0, seconds=2.0)
    assert [fade.weight(t) for t in (9.0, 10.0, 10.5, 11.0, 12.0, 13.0)] == \
        [0.0, 0.0, 0.25, 0.5, 1.0, 1.0]
    assert not fade.done(11.9) and fade.done(12.0)


def test_set_with_a_transition_and_an_effect_blends_old_into_new() -> None:
    eng, display, clock = over_blue()
    send(eng, clock, "set", RED + ',"transition":2}')
    st = eng.state()
    assert st["effect"] == "solid" and st["params"]["color"] == "#ff0000"  # the new one at once
    assert pixel(display) == (0, 0, 255)  # w == 0 on the command's own frame
    seen = []
    for _ in range(61):
        clock.advance(STEP)
        eng.tick(clock.monotonic())
        seen.append(pixel(display))
    assert near(seen[29], (128, 0, 128))  # half way after 1 s: old * 0.5 + new * 0.5
    reds, blues = [r for r, _, _ in seen], [b for _, _, b in seen]
    assert reds == sorted(reds) and blues == sorted(blues, reverse=True)
    assert all(r + b in (254, 255, 256) for r, _, b in seen)  # a blend, never a brightness dip
    assert seen[-1] == (255, 0, 0) and not eng.supervisor.xfade.running  # old one retired
    assert eng.panel.fade is None  # no brightness fade: the brightness did not change


def test_the_blend_cannot_wrap() -> None:
    eng, display, clock = make_engine()
    send(eng, clock, "animation", '{"name":"solid","params":{"color":"#ffffff"}}')
    send(eng, clock, "set", '{"effect":"solid","params":{"color":"#ffffff"},"transition":1}')
    for _ in range(29):
        clock.advance(STEP)
        eng.tick(clock.monotonic())
        assert eng.supervisor.xfade.running
        assert pixel(display) == (255, 255, 255)  # 255 * (1 - w) + 255 * w, not 510 % 256


def test_each_animation_keeps_its_own_clock_during_the_fade() -> None:
    eng, display, clock = make_engine()
    send(eng, clock, "animation", "clocked_unit")
    old = eng.supervisor.requested
    run(eng, clock, 5.0)
    send(eng, clock, "set", '{"effect":"clocked_unit","transition":2}')
    new = eng.supervisor.requested
    assert old is not None and new is not None and old is not new
    run(eng, clock, 1.0)
    assert isinstance(old.instance, Clocked) and isinstance(new.instance, Clocked)
    assert old.instance.ts[-1] == pytest.approx(6.0, abs=1e-6)  # on: never restarted
    assert new.instance.ts[0] == pytest.approx(0.0, abs=1e-6)  # starts at its t == 0
    assert new.instance.ts[-1] == pytest.approx(1.0, abs=1e-6)
    # 60 * 0.5 + 10 * 0.5: both were drawn this frame, each at its own t.
    assert near(pixel(display), (35, 35, 35))


@pytest.mark.parametrize("extra", ["", ',"transition":0'])
def test_no_transition_switches_at_once(extra: str) -> None:
    eng, display, clock = over_blue()
    send(eng, clock, "set", RED + extra + "}")
    assert pixel(display) == (255, 0, 0) and not eng.supervisor.xfade.running


def test_a_transition_without_an_effect_stays_a_brightness_fade() -> None:
    eng, display, clock = over_blue()
    send(eng, clock, "set", '{"brightness":20,"transition":1}')
    assert not eng.supervisor.xfade.running and eng.panel.fade is not None
    run(eng, clock, 0.5)
    assert pixel(display) == (0, 0, 255) and 20 < display.brightness_pct < 80


def test_the_old_animation_is_retired_with_its_worker_at_the_end() -> None:
    eng, display, clock = make_engine(animation={"isolation": "all"})
    send(eng, clock, "animation", BLUE)
    run(eng, clock, 0.2)
    old = eng.supervisor.requested
    assert old is not None and old.worker is not None
    send(eng, clock, "set", RED + ',"transition":1}')
    run(eng, clock, 0.5)
    assert old.worker is not None and eng.supervisor.xfade.old is old  # still drawing
    run(eng, clock, 0.6)
    assert old.worker is None and not eng.supervisor.xfade.running
    assert pixel(display) == (255, 0, 0)
    eng.shutdown()


@pytest.mark.parametrize(("action", "payload"), [
    ("animation", '{"name":"solid","params":{"color":"#00ff00"}}'),
    ("set", '{"effect":"solid","params":{"color":"#00ff00"}}'),
    ("brightness", "50"),
    ("set", '{"brightness":50}'),
])
def test_a_new_command_during_a_fade_ends_it_at_once(action: str, payload: str) -> None:
    eng, display, clock = over_blue()
    send(eng, clock, "set", RED + ',"transition":2}')
    run(eng, clock, 1.0)
    old = eng.supervisor.xfade.old
    assert old is not None
    send(eng, clock, action, payload)
    assert not eng.supervisor.xfade.running
    assert pixel(display) in ((0, 255, 0), (255, 0, 0))  # the blue one is gone at once
    assert eng.supervisor.requested is not old


def test_a_new_fade_during_a_fade_starts_from_the_animation_that_was_coming_in() -> None:
    eng, display, clock = over_blue()
    send(eng, clock, "set", RED + ',"transition":2}')
    red = eng.supervisor.requested
    run(eng, clock, 1.0)
    send(eng, clock, "set", '{"effect":"solid","params":{"color":"#00ff00"},"transition":2}')
    assert eng.supervisor.xfade.old is red
    run(eng, clock, 1.0)
    assert near(pixel(display), (128, 128, 0))


def test_power_off_during_a_fade_goes_dark_at_once() -> None:
    for action, payload in (("power", "OFF"), ("set", '{"state":"OFF"}')):
        eng, display, clock = over_blue()
        send(eng, clock, "set", RED + ',"transition":2}')
        run(eng, clock, 0.5)
        send(eng, clock, action, payload)
        assert not display.frame().any() and not eng.supervisor.xfade.running


def test_the_old_animation_failing_during_the_fade_is_dropped_without_a_fallback() -> None:
    eng, display, clock = make_engine()
    send(eng, clock, "animation", '{"name":"breaks_unit","params":{"after":20}}')
    send(eng, clock, "set", RED + ',"transition":2}')
    assert eng.supervisor.xfade.running
    seen = []
    for _ in range(40):
        clock.advance(STEP)
        eng.tick(clock.monotonic())
        seen.append(pixel(display))
    assert not eng.supervisor.xfade.running
    assert eng.counters.animation_errors_total == 1 and eng.counters.fallbacks_total == 0
    assert not eng.supervisor.showing_fallback and "active" not in eng.state()
    dropped = seen.index((255, 0, 0))
    # Blended until it broke, then the new one alone: never the fallback (breathe) or black.
    assert all(px[1] == px[2] and px[1] > 0 for px in seen[:dropped])
    assert all(px == (255, 0, 0) for px in seen[dropped:])


def test_the_new_animation_failing_goes_through_the_normal_failure_path() -> None:
    eng, _, clock = over_blue()
    send(eng, clock, "set", '{"effect":"breaks_unit","params":{"after":3},"transition":2}')
    run(eng, clock, 0.5)
    sup = eng.supervisor
    assert sup.showing_fallback and eng.counters.fallbacks_total == 1
    assert eng.state()["active"] == eng.settings.animation.fallback
    assert eng.state()["effect"] == "breaks_unit"
    assert sup.xfade.running  # the old one still blends out, now into the fallback
    run(eng, clock, 2.0)
    assert not sup.xfade.running


def test_from_dark_the_new_effect_fades_in_without_the_old_one() -> None:
    eng, display, clock = over_blue()
    send(eng, clock, "power", "OFF")
    send(eng, clock, "set", '{"state":"ON","effect":"solid","params":{"color":"#ff0000"},'
                            '"transition":1}')
    assert not eng.supervisor.xfade.running and eng.panel.fade is not None
    run(eng, clock, 0.5)
    assert pixel(display) == (255, 0, 0) and display.brightness_pct < 80
