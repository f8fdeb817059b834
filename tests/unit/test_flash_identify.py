"""Home Assistant's flash and the identify button: the wire, the engine, the top layer.

Home Assistant's JSON-schema light sends ``{"state":"ON","flash":2}`` for
``light.turn_on`` with ``flash: short`` (2 and 10 are the discovery document's
``flash_time_short``/``flash_time_long``), and ``{"state":"OFF","flash":n}`` for a
turn-off with a flash. The rest of the command holds; the flash is the identify
layer over the stack.
"""

from __future__ import annotations

import numpy as np
import pytest
from structlog.testing import capture_logs

from animations import REGISTRY
from appliance.display.virtual import VirtualDisplay
from appliance.render.clock import FakeClock
from appliance.render.engine import Engine
from appliance.settings import validate
from appliance.wire.commands import CommandError, SetLight, parse_command
from appliance.wire.payloads import FLASH_LONG_S, FLASH_SHORT_S
from tests.unit.recorder import Recorder


def make_engine() -> tuple[Engine, VirtualDisplay, FakeClock, Recorder]:
    display = VirtualDisplay(16, 8)
    clock, pub = FakeClock(), Recorder()
    eng = Engine(validate({"device_id": "unit"}), display, REGISTRY, clock=clock, publisher=pub)
    eng.start()
    return eng, display, clock, pub


def run(eng: Engine, clock: FakeClock, action: str, payload: str) -> None:
    eng.submit(parse_command(action, payload.encode()))
    eng.tick(clock.monotonic())


def flashing(display: VirtualDisplay) -> bool:
    frame = display.frame()  # type: ignore[attr-defined]
    return bool(np.all(frame == 255) or not frame.any())


# ------------------------------------------------------------------ the wire
@pytest.mark.parametrize(("payload", "power", "seconds"), [
    ('{"state":"ON","flash":2}', "ON", 2.0),      # flash: short, exactly as HA sends it
    ('{"state":"ON","flash":10}', "ON", 10.0),    # flash: long
    ('{"state":"OFF","flash":2}', "OFF", 2.0),    # light.turn_off with a flash
    ('{"flash":"short"}', None, float(FLASH_SHORT_S)),
    ('{"flash":"long"}', None, float(FLASH_LONG_S)),
    ('{"flash":0.5}', None, 0.5),
])
def test_set_accepts_home_assistants_flash(payload: str, power: str | None,
                                           seconds: float) -> None:
    c = parse_command("set", payload.encode())
    assert isinstance(c, SetLight)
    assert (c.power, c.flash_s) == (power, seconds)


@pytest.mark.parametrize(("payload", "code"), [
    ('{"flash":0}', "out_of_range"), ('{"flash":61}', "out_of_range"),
    ('{"flash":-2}', "out_of_range"), ('{"flash":"2"}', "invalid_value"),
    ('{"flash":"medium"}', "invalid_value"), ('{"flash":true}', "invalid_value"),
    ('{"flash":[2]}', "invalid_value"),
])
def test_a_bad_flash_is_refused_naming_the_field(payload: str, code: str) -> None:
    with pytest.raises(CommandError) as err:
        parse_command("set", payload.encode())
    assert (err.value.code, err.value.field) == (code, "flash")


def test_without_flash_a_light_command_flashes_nothing() -> None:
    c = parse_command("set", b'{"state":"ON","brightness":40}')
    assert isinstance(c, SetLight) and c.flash_s is None


# ------------------------------------------------------------------ the engine
def test_turn_on_with_flash_turns_on_and_flashes_then_shows_the_animation() -> None:
    eng, display, clock, _ = make_engine()
    run(eng, clock, "animation", '{"name":"solid","params":{"color":"#00ff00"}}')
    run(eng, clock, "power", "OFF")
    assert not display.frame().any()  # type: ignore[attr-defined]
    with capture_logs() as logs:
        run(eng, clock, "set", '{"state":"ON","flash":2}')
    assert eng.state()["state"] == "ON"  # the turn-on holds at once
    assert flashing(display)
    assert any(e["event"] == "flash_started" and e["seconds"] == 2 for e in logs)
    clock.advance(2.0)
    eng.tick(clock.monotonic())
    frame = display.frame()  # type: ignore[attr-defined]
    assert frame[..., 1].min() == 255 and frame[..., 0].max() == 0  # green again


def test_flash_with_brightness_and_effect_applies_all_of_it() -> None:
    eng, display, clock, _ = make_engine()
    run(eng, clock, "set", '{"state":"ON","brightness":30,"effect":"plasma","flash":10}')
    state = eng.state()
    assert (state["state"], state["brightness"], state["effect"]) == ("ON", 30, "plasma")
    assert flashing(display)


def test_a_refused_command_with_flash_does_not_flash() -> None:
    eng, display, clock, pub = make_engine()
    run(eng, clock, "animation", '{"name":"solid","params":{"color":"#00ff00"}}')
    run(eng, clock, "set", '{"state":"ON","effect":"no_such_animation","flash":2}')
    assert not flashing(display)
    assert any(e["event"] == "command_rejected" for e in pub.of("events"))


def test_turn_off_with_flash_flashes_then_goes_dark() -> None:
    eng, display, clock, _ = make_engine()
    run(eng, clock, "set", '{"state":"OFF","flash":2}')
    assert eng.state()["state"] == "OFF"
    assert flashing(display)
    clock.advance(2.0)
    eng.tick(clock.monotonic())
    assert not display.frame().any()  # type: ignore[attr-defined]


def test_identify_publishes_an_event_and_logs_it() -> None:
    eng, _, clock, pub = make_engine()
    with capture_logs() as logs:
        run(eng, clock, "identify", "{}")
    events = [e for e in pub.of("events") if e["event"] == "identify"]
    assert len(events) == 1
    assert (events[0]["seconds"], events[0]["source"]) == (5.0, "mqtt")
    started = [e for e in logs if e["event"] == "identify_started"]
    assert started and started[0]["seconds"] == 5.0 and started[0]["source"] == "mqtt"


def test_a_turn_off_during_identify_says_off_at_once_and_is_dark_when_it_ends() -> None:
    eng, display, clock, _ = make_engine()
    run(eng, clock, "identify", '{"seconds":3}')
    clock.advance(1.0)
    run(eng, clock, "power", "OFF")
    assert eng.state()["state"] == "OFF"  # state says OFF at once
    assert flashing(display)  # identify runs its time: it is how a box is found
    clock.advance(2.0)
    eng.tick(clock.monotonic())
    assert not display.frame().any()  # type: ignore[attr-defined]


def test_a_short_flash_never_cuts_a_running_identify_short() -> None:
    eng, display, clock, _ = make_engine()
    run(eng, clock, "identify", '{"seconds":5}')
    run(eng, clock, "set", '{"flash":2}')
    clock.advance(3.0)
    eng.tick(clock.monotonic())
    assert flashing(display)
    clock.advance(2.0)
    eng.tick(clock.monotonic())
    assert not flashing(display)
