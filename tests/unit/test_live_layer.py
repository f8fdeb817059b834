"""The live layer in a real engine on a fake clock: frames put straight into its FrameSlot.

What the receivers hand over (``LiveFrame`` in a ``FrameSlot``) is the interface; the
receivers themselves and real packets are tested in tests/integration/test_live.py.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from animations import REGISTRY
from appliance.content.live.model import FrameSlot, LiveCounters, LiveFrame
from appliance.display.virtual import VirtualDisplay
from appliance.realtime_service import RealtimeService
from appliance.render.clock import FakeClock
from appliance.render.engine import Engine
from appliance.settings import Settings, validate
from appliance.settings.realtime_schema import RealtimeSettings
from appliance.telemetry import ConfigStatus, evaluate
from appliance.wire.commands import parse_command
from appliance.wire.replies import Reply
from tests.integration.live_senders import ddp_packet
from tests.unit.recorder import Recorder

W, H = 64, 32
DT = 1 / 30



def settings_with(on_timeout: str = "resume", timeout_s: float = 1.0) -> Settings:
    return validate({"device_id": "unit", "animation": {"default": "plasma"},
                     "realtime": {"ddp": {"enabled": True}, "timeout_s": timeout_s,
                                  "on_timeout": on_timeout}})


class Rig:
    """An engine on a fake clock and a sender that puts frames in the live layer's slot."""

    def __init__(self, on_timeout: str = "resume", timeout_s: float = 1.0) -> None:
        self.display = VirtualDisplay(W, H)
        self.clock = FakeClock()
        self.pub = Recorder()
        self.eng = Engine(settings_with(on_timeout, timeout_s), self.display, REGISTRY,
                          clock=self.clock, publisher=self.pub)
        self.eng.start()
        self.seq = 0

    def send(self, rgb: tuple[int, int, int], source: str = "10.0.0.2:4048",
             protocol: str = "ddp", shape: tuple[int, ...] = (H, W, 3)) -> None:
        self.seq += 1
        px = np.empty(shape, np.uint8)
        px[...] = rgb
        self.eng.live_input.slot.put(LiveFrame(px, protocol, source,  # type: ignore[arg-type]
                                               self.clock.monotonic(), seq=self.seq))

    def tick(self, seconds: float = DT) -> np.ndarray:
        self.clock.advance(seconds)
        self.eng.tick(self.clock.monotonic())
        return self.display.frame().copy()

    def command(self, action: str, payload: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []

        def answer(reply: Reply) -> None:
            out.append(dict(reply.as_json()))

        self.eng.submit(parse_command(action, payload.encode()), answer)
        return out


def plasma_at(seconds: float) -> np.ndarray:
    """Plasma alone, ``seconds`` after start (a second engine on its own fake clock)."""
    r = Rig()
    r.eng.settings = validate({"device_id": "unit", "animation": {"default": "plasma"}})
    return r.tick(seconds)


def all_of(frame: np.ndarray, rgb: tuple[int, int, int]) -> bool:
    return bool((frame == rgb).all())


def test_a_new_frame_covers_the_base_and_is_announced_once() -> None:
    r = Rig()
    base = r.tick()
    assert not all_of(base, (200, 10, 30))
    r.send((200, 10, 30))
    assert all_of(r.tick(), (200, 10, 30))
    states_before = len(r.pub.of("state"))
    for i in range(30):  # a second of frames at 30 fps
        r.send((i, 10, 30))
        assert all_of(r.tick(), (i, 10, 30))
    live = r.eng.state()["live"]
    assert live == {"active": True, "protocol": "ddp", "source": "10.0.0.2:4048",
                    "fps": 30.0, "mode": "auto"}
    # The start published the state; a second later once more with the fps: not per frame.
    assert len(r.pub.of("state")) - states_before <= 1
    assert [e["source"] for e in r.pub.events("live_started")] == ["10.0.0.2:4048"]
    assert r.eng.snapshot()["live_frames_shown_total"] == 31


def test_the_same_frame_is_taken_once_and_shown_until_the_next() -> None:
    r = Rig()
    r.send((1, 2, 3))
    for _ in range(10):
        assert all_of(r.tick(), (1, 2, 3))
    assert r.eng.live_input.frames_shown_total == 1


def test_a_sender_faster_than_the_panel_is_measured_at_its_own_rate() -> None:
    r = Rig()
    for _ in range(31):
        r.send((9, 9, 9))
        r.send((9, 9, 9))  # two frames completed per panel frame: one overwritten
        r.tick()
    assert r.eng.state()["live"]["fps"] == 60.0


def test_timeout_resumes_the_base_on_its_own_clock() -> None:
    r = Rig("resume", timeout_s=1.0)
    r.tick()
    r.send((255, 0, 0))
    for _ in range(20):
        assert all_of(r.tick(), (255, 0, 0))
    frame = r.tick(1.0)  # a second without a frame: the stream has ended
    assert not r.eng.state()["live"]["active"]
    # The animation underneath went on: it shows its frame for now, not its first frame.
    elapsed = r.clock.monotonic() - r.eng.started_mono
    np.testing.assert_array_equal(frame, plasma_at(elapsed))
    assert r.pub.events("live_ended")[-1]["reason"] == "timeout"


def test_blank_stays_black_until_the_next_frame_or_a_hand_made_command() -> None:
    r = Rig("blank", timeout_s=0.5)
    r.send((0, 255, 0))
    r.tick()
    for _ in range(5):
        assert all_of(r.tick(0.5), (0, 0, 0))
    r.send((0, 0, 255))  # the next stream frame shows at once
    assert all_of(r.tick(), (0, 0, 255))
    assert all_of(r.tick(1.0), (0, 0, 0))
    reply = r.command("animation", '{"name":"solid","params":{"color":"#ff8000"}}')
    assert all_of(r.tick(), (255, 128, 0)) and reply[0]["ok"]


def test_hold_keeps_the_last_frame_and_a_notification_does_not_end_it() -> None:
    r = Rig("hold", timeout_s=0.5)
    r.send((10, 20, 30))
    r.tick()
    r.tick(0.6)
    assert not r.eng.state()["live"]["active"]
    r.command("notify", '{"text":"Hi","id":"n1","duration_s":1}')
    r.tick(2.0)
    assert all_of(r.tick(5.0), (10, 20, 30))
    r.command("brightness", "40")  # a hand-made command: the base shows again
    assert not all_of(r.tick(), (10, 20, 30))


def test_ignore_mode_shows_nothing_and_only_new_frames_show_after_auto() -> None:
    r = Rig()
    r.send((50, 60, 70))
    r.tick()
    reply = r.command("live", '{"mode":"ignore"}')
    frame = r.tick()
    assert reply[0]["ok"] and reply[0]["state"]["live"] == {
        "active": False, "protocol": None, "source": None, "fps": 0.0, "mode": "ignore"}
    assert not all_of(frame, (50, 60, 70))
    assert r.pub.events("live_ended")[-1]["reason"] == "ignored"
    r.send((1, 1, 1))
    assert not all_of(r.tick(), (1, 1, 1))
    r.command("live", "auto")
    assert not all_of(r.tick(), (1, 1, 1))  # sent while ignored: never shown
    r.send((2, 2, 2))
    assert all_of(r.tick(), (2, 2, 2))


def test_a_notification_draws_over_live() -> None:
    r = Rig()
    r.send((0, 0, 80))
    r.tick()
    r.command("notify", '{"text":"Door","color":"#ff0000","background":"#000000"}')
    frame = r.tick()
    assert (frame == (255, 0, 0)).all(axis=2).any()  # the text
    assert (frame == (0, 0, 80)).all(axis=2).any()  # live outside the banner


def test_a_frame_of_another_geometry_is_refused_not_raised() -> None:
    r = Rig()
    r.send((9, 9, 9), shape=(H, W + 1, 3))
    frame = r.tick()
    assert not all_of(frame, (9, 9, 9))
    assert r.eng.snapshot()["live_frames_refused_total"] == 1
    assert not r.eng.state()["live"]["active"]


def test_a_new_sender_ends_the_old_one_and_the_state_names_it() -> None:
    r = Rig()
    r.send((1, 1, 1), "10.0.0.2:4048")
    r.tick()
    r.send((2, 2, 2), "10.0.0.9:5568", protocol="e131")
    assert all_of(r.tick(), (2, 2, 2))
    assert r.pub.events("live_ended")[-1]["reason"] == "replaced"
    assert r.pub.of("state")[-1]["live"]["source"] == "10.0.0.9:5568"
    assert r.pub.of("state")[-1]["live"]["protocol"] == "e131"


def test_switching_realtime_off_in_the_settings_ends_live_and_tells_the_receivers() -> None:
    r = Rig()
    told: list[RealtimeSettings] = []
    r.eng.live.on_realtime = told.append
    r.send((3, 3, 3))
    r.tick()
    new = validate({"device_id": "unit", "animation": {"default": "plasma"}})
    r.eng.live.apply(r.eng.settings, new)
    r.tick()
    assert told == [new.realtime]
    assert r.pub.events("live_ended")[-1]["reason"] == "stopped"


def test_live_figures_reach_the_metrics_and_a_receiver_fault_the_health() -> None:
    r = Rig()
    r.eng.live_input.counters.invalid("short")
    r.eng.live_input.receiver_error = "OSError: [Errno 98] Address already in use"
    snap = r.eng.snapshot()
    assert snap["live_packets_invalid_total"] == 1 and snap["live_frames_total"] == 0
    health = evaluate(snap, {"connected": True}, ConfigStatus(),
                      {"cpu_percent": 1.0, "rss_mb": 10.0}, r.eng.settings.health, "virtual")
    assert health["status"] == "degraded"
    assert any("Address already in use" in why for why in health["reasons"])


class FakeReceivers:
    def __init__(self, fail: list[str]) -> None:
        self.slot = FrameSlot()
        self.counters = LiveCounters()
        self.fail = fail
        self.calls: list[str] = []
        self.done = threading.Event()

    def start(self, settings: RealtimeSettings, width: int, height: int) -> None:
        self.calls.append(f"start {settings.ddp.port}")
        self.done.set()
        if self.fail:
            raise OSError(98, self.fail.pop(0))

    def stop(self) -> None:
        self.calls.append("stop")

    def reconfigure(self, settings: RealtimeSettings) -> None:
        self.calls.append(f"reconfigure {settings.ddp.port}")
        self.done.set()


def _apply(svc: RealtimeService, fake: FakeReceivers, rt: RealtimeSettings) -> None:
    fake.done.clear()
    svc.request(rt)
    assert fake.done.wait(5)
    svc.stop()  # joins the worker: everything asked for has been done


def test_the_service_survives_a_port_in_use_and_listens_once_it_is_free() -> None:
    r = Rig()
    fake = FakeReceivers(["Address already in use"])
    svc = RealtimeService(r.eng.live_input, W, H, r.eng.event, make=lambda: fake)
    svc.start(RealtimeSettings())  # all off: nothing started
    rt = RealtimeSettings.model_validate({"ddp": {"enabled": True, "port": 4100}})
    _apply(svc, fake, rt)
    assert "Address already in use" in str(r.eng.live_input.receiver_error)
    assert r.pub.events("realtime_receiver_failed")
    assert fake.calls == ["start 4100", "stop"]  # a part-way start is closed again
    svc = RealtimeService(r.eng.live_input, W, H, r.eng.event, make=lambda: fake)
    fake.done.clear()
    svc.start(RealtimeSettings.model_validate({"ddp": {"enabled": True, "port": 4101}}))
    assert fake.done.wait(5)
    fake.done.clear()
    svc.request(RealtimeSettings.model_validate({"ddp": {"enabled": True, "port": 4102}}))
    assert fake.done.wait(5)
    svc.stop()
    assert r.eng.live_input.receiver_error is None
    assert fake.calls[2:] == ["start 4101", "reconfigure 4102", "stop"]
    assert r.eng.live_input.slot is fake.slot  # the layer reads the receivers' slot


def test_the_tests_ddp_sender_lays_the_header_out_as_the_protocol_documents() -> None:
    pkt = ddp_packet(b"\x01\x02\x03", 0x01020304, push=True, seq=5)
    assert pkt[:10] == bytes([0x41, 0x05, 0x0B, 0x01, 0x01, 0x02, 0x03, 0x04, 0x00, 0x03])
    assert pkt[10:] == b"\x01\x02\x03" and ddp_packet(b"", 0, push=False)[0] == 0x40


def test_home_assistant_gets_a_select_for_cmd_live() -> None:
    from appliance import discovery

    r = Rig()
    doc = discovery.payload(r.eng.settings, REGISTRY.catalogue(), {})
    sel = doc["cmps"]["live_mode"]
    assert sel["platform"] == "select" and sel["options"] == ["auto", "ignore"]
    assert sel["command_topic"] == "lightbox/unit/cmd/live"
    assert "value_json.live.mode" in sel["value_template"]
    for option in sel["options"]:  # what the select sends is a valid cmd/live
        assert parse_command("live", option.encode()).mode == option  # type: ignore[union-attr]
    assert r.eng.state()["live"]["mode"] == "auto"


def test_a_cleared_slot_ends_the_stream_at_once() -> None:
    r = Rig("resume", timeout_s=60)
    r.send((4, 4, 4))
    r.tick()
    r.eng.live_input.slot.clear()  # the receivers' word for a stream that terminated
    assert not all_of(r.tick(), (4, 4, 4))
    assert r.pub.events("live_ended")[-1]["reason"] == "terminated"


def test_a_source_the_slot_notes_as_ended_ends_at_once() -> None:
    r = Rig("hold", timeout_s=60)
    r.send((5, 5, 5), "10.0.0.7:5568", protocol="e131")
    r.tick()

    class Ending(FrameSlot):
        def ended(self) -> tuple[str, int]:
            return ("10.0.0.7:5568", r.seq)

    slot = Ending()
    slot.put(r.eng.live_input.slot.latest())  # type: ignore[arg-type]
    r.eng.live_input.slot = slot
    assert all_of(r.tick(), (5, 5, 5))  # held: on_timeout applies as after a timeout
    assert r.pub.events("live_ended")[-1]["reason"] == "terminated"
    assert not r.eng.state()["live"]["active"]


def test_brightness_is_the_panels_and_applies_to_live_which_stays() -> None:
    r = Rig()
    r.send((100, 100, 100))
    r.tick()
    r.command("brightness", "40")
    assert all_of(r.tick(), (100, 100, 100)) and r.display.brightness_pct == 40
    assert r.eng.state()["live"]["active"]


def test_identify_flashes_over_live() -> None:
    r = Rig(timeout_s=60)
    r.send((7, 70, 7))
    r.tick()
    r.command("identify", '{"seconds": 2}')
    frame = r.tick()
    assert all_of(frame, (255, 255, 255)) or all_of(frame, (0, 0, 0))
    assert all_of(r.tick(3.0), (7, 70, 7))  # identify over: live again (it never ended)


def test_the_live_counters_reach_metrics_and_prometheus() -> None:
    from prometheus_client import generate_latest
    from prometheus_client.core import CollectorRegistry

    from appliance.system import SystemProbe
    from appliance.telemetry import Telemetry
    from bridge.metrics import _engine_metrics

    r = Rig()
    r.send((1, 1, 1))
    r.tick()
    r.eng.live_input.counters.packets_total = 12
    r.eng.live_input.counters.frames_total = 1
    r.eng.live_input.counters.invalid("short")
    tel = Telemetry(r.eng.snapshot, dict, lambda *a: None, lambda m: None,
                    lambda: r.eng.settings.health, ConfigStatus(), SystemProbe(), "virtual", "t")
    doc = tel.metrics(r.eng.snapshot(), {"cpu_percent": 0, "rss_mb": 0, "cpu_temp_c": None,
                                         "throttled": None})
    assert doc["live_frames_total"] == 1 and doc["live_packets_invalid_total"] == 1
    assert doc["live_packets_total"] == 12

    class Fixed:
        def collect(self) -> Any:
            return _engine_metrics(doc)

    reg = CollectorRegistry()
    reg.register(Fixed())  # type: ignore[arg-type]
    text = generate_latest(reg).decode()
    assert "lightbox_live_frames_total 1.0" in text
    assert "lightbox_live_packets_invalid_total 1.0" in text


def test_a_schedules_brightness_cap_applies_over_live() -> None:
    r = Rig()
    r.send((200, 200, 200))
    r.tick()
    r.eng.panel.set_cap(10)  # what a brightness_max window puts in force
    assert all_of(r.tick(), (200, 200, 200)) and r.display.brightness_pct == 10
