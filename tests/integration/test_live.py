"""Realtime input end to end: a real engine, a real mosquitto and real packets over loopback.

Senders that are not the receivers under test (``tests/integration/live_senders.py``:
sacn's E1.31 encoder, stupidArtnet, a DDP sender written to the protocol's documentation);
the pixels are read from the virtual panel's snapshot, a real output of the engine.
No timing asserts: every test waits, with a deadline, for what must be seen.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tests.integration.live_senders import (
    ArtNetSender,
    DDPSender,
    E131Sender,
    Sender,
    Stream,
    free_udp_port,
    solid,
)
from tests.support import LightboxProcess, MQTTProbe, wait_until

pytestmark = pytest.mark.integration

Probe = Callable[..., MQTTProbe]
Factory = Callable[..., LightboxProcess]
W, H = 32, 16  # 512 pixels: two DDP packets, four universes (the last one short)
BLUE, GREEN, RED = (0, 0, 255), (0, 255, 0), (255, 0, 0)


def start(factory: Factory, device: str, **realtime: Any) -> tuple[LightboxProcess, dict[str, int]]:
    """An engine on a 32x16 virtual panel showing solid blue, all three receivers on."""
    ports = {"ddp": free_udp_port(), "e131": free_udp_port(), "artnet": free_udp_port()}
    rt: dict[str, Any] = {
        "bind": "127.0.0.1", "timeout_s": 1.0,
        "ddp": {"enabled": True, "port": ports["ddp"]},
        "e131": {"enabled": True, "port": ports["e131"], "multicast": False},
        "artnet": {"enabled": True, "port": ports["artnet"]},
    }
    for key, value in realtime.items():
        rt[key] = {**rt[key], **value} if isinstance(value, dict) else value
    eng = factory(device, display={"driver": "virtual", "rows": H, "cols": W},
                  animation={"default": "solid", "boot": "default",
                             "params": {"solid": {"color": "#0000ff"}}},
                  realtime=rt)
    wait_until(lambda: _all(eng.panel(), BLUE), message="the blue base", timeout_s=15)
    return eng, ports


def _all(frame: np.ndarray | None, rgb: tuple[int, int, int]) -> bool:
    return frame is not None and bool((frame == rgb).all())


def _metrics_after(p: MQTTProbe, base: str, since: int, n: int = 1) -> dict[str, Any]:
    """Wait for the ``n``-th metrics document published after ``since``; return it."""
    seen: list[Any] = []

    def enough() -> bool:
        seen[:] = [m for m in p.messages[since:] if m.topic == f"{base}/metrics"]
        return len(seen) >= n
    wait_until(enough, message=f"{n} metrics documents", timeout_s=20)
    return dict(json.loads(seen[n - 1].payload))


def test_a_whole_ddp_frame_shows_a_partial_one_does_not_and_the_base_resumes(
        engine_factory: Factory, probe: Probe) -> None:
    eng, ports = start(engine_factory, "live1")
    base = "lightbox/live1"
    p = probe().subscribe(f"{base}/#", wait_s=0.3)
    tx = DDPSender(ports["ddp"])
    mark = p.mark()
    tx.frame(solid(W, H, RED), push=False)  # every byte, but no push: not a frame
    tx.frame(solid(W, H, RED), upto=W * H * 3 - 30)  # pushed, but short of the panel
    wait_until(lambda: _metrics_after(p, base, mark)["live_packets_total"] >= 4,
               message="the partial frames' packets counted", timeout_s=20)
    _metrics_after(p, base, p.mark())  # one more frame of metrics after that
    assert _all(eng.panel(), BLUE) and p.last(f"{base}/state")["live"]["active"] is False
    mark = p.mark()
    tx.frame(solid(W, H, GREEN))
    wait_until(lambda: _all(eng.panel(), GREEN), message="the green stream frame", timeout_s=15)
    state = p.wait_for(f"{base}/state", lambda s: s["live"]["active"], since=mark)
    assert state["live"]["protocol"] == "ddp" and state["live"]["source"] == tx.source
    started = p.wait_for(f"{base}/events", lambda e: e.get("event") == "live_started",
                         since=mark)
    assert started["source"] == tx.source
    # No more frames: after timeout_s the base shows again.
    wait_until(lambda: _all(eng.panel(), BLUE), message="the base again", timeout_s=15)
    p.wait_for(f"{base}/events", lambda e: e.get("event") == "live_ended"
               and e.get("reason") == "timeout", since=mark)
    metrics = _metrics_after(p, base, p.mark())
    assert metrics["live_frames_total"] >= 1 and metrics["live_frames_shown_total"] >= 1
    tx.close()


def test_blank_then_hold_set_live_by_cmd_config(engine_factory: Factory, probe: Probe) -> None:
    eng, ports = start(engine_factory, "live2", timeout_s=0.5, on_timeout="blank")
    base = "lightbox/live2"
    p = probe().subscribe(f"{base}/#", wait_s=0.3)
    tx = DDPSender(ports["ddp"])
    with Stream(lambda: tx.frame(solid(W, H, GREEN))):
        wait_until(lambda: _all(eng.panel(), GREEN), message="the stream", timeout_s=15)
    wait_until(lambda: _all(eng.panel(), (0, 0, 0)), message="blank after the stream",
               timeout_s=15)
    r = p.request(f"{base}/cmd/config", {"realtime": {"on_timeout": "hold"}})
    assert r["ok"], r
    mark = p.mark()
    with Stream(lambda: tx.frame(solid(W, H, (200, 100, 0)))):  # (the receivers may rebind)
        wait_until(lambda: _all(eng.panel(), (200, 100, 0)), message="the frame",
                   timeout_s=15)
    p.wait_for(f"{base}/events", lambda e: e.get("event") == "live_ended", since=mark,
               timeout_s=15)
    _metrics_after(p, base, p.mark(), n=2)  # a while after the stream ended
    assert _all(eng.panel(), (200, 100, 0))  # held
    assert p.request(f"{base}/cmd/animation", {"name": "solid",
                                                "params": {"color": "#ff0000"}})["ok"]
    wait_until(lambda: _all(eng.panel(), RED), message="a hand-made look ends the hold",
               timeout_s=15)
    tx.close()


def test_cmd_live_ignore_shows_the_base_while_a_stream_runs(engine_factory: Factory,
                                                            probe: Probe) -> None:
    eng, ports = start(engine_factory, "live3")
    base = "lightbox/live3"
    p = probe().subscribe(f"{base}/#", wait_s=0.3)
    tx = DDPSender(ports["ddp"])
    with Stream(lambda: tx.frame(solid(W, H, GREEN))):
        wait_until(lambda: _all(eng.panel(), GREEN), message="the stream", timeout_s=15)
        mark = p.mark()
        r = p.request(f"{base}/cmd/live", {"mode": "ignore"})
        assert r["ok"] and r["state"]["live"]["mode"] == "ignore", r
        assert r["state"]["live"]["active"] is False
        wait_until(lambda: _all(eng.panel(), BLUE), message="the base while ignoring",
                   timeout_s=15)
        ended = p.wait_for(f"{base}/events", lambda e: e.get("event") == "live_ended",
                           since=mark)
        assert ended["reason"] == "ignored", ended
        r = p.request(f"{base}/cmd/live", "auto")
        assert r["ok"] and r["state"]["live"]["mode"] == "auto", r
        wait_until(lambda: _all(eng.panel(), GREEN), message="the stream again", timeout_s=15)
    tx.close()


def test_e131_priority_and_termination_partial_universes_wait_and_artnet_shows(
        engine_factory: Factory, probe: Probe) -> None:
    eng, ports = start(engine_factory, "live4")
    base = "lightbox/live4"
    p = probe().subscribe(f"{base}/#", wait_s=0.3)
    low, high = E131Sender(ports["e131"], priority=100), E131Sender(ports["e131"], priority=150)
    mark = p.mark()
    white = solid(W, H, (255, 255, 255)).tobytes()
    for u in range(3):  # three of the frame's four universes: not a frame
        low.raw(_e131(low, u, white[u * 510:(u + 1) * 510]))
    wait_until(lambda: _metrics_after(p, base, mark)["live_packets_total"] >= 3,
               message="the universes counted", timeout_s=20)
    _metrics_after(p, base, p.mark())
    assert _all(eng.panel(), BLUE)
    with Stream(lambda: low.frame(solid(W, H, RED))):
        wait_until(lambda: _all(eng.panel(), RED), message="the first stream", timeout_s=15)
    mark = p.mark()  # the sender says it has ended: no waiting for the timeout
    low.raw(_e131(low, 0, bytes(510), sequence=low.seq, terminated=True))
    ended = p.wait_for(f"{base}/events", lambda e: e.get("event") == "live_ended", since=mark)
    assert ended["reason"] == "terminated", ended
    with Stream(lambda: low.frame(solid(W, H, RED))):
        with Stream(lambda: high.frame(solid(W, H, GREEN))):
            wait_until(lambda: _all(eng.panel(), GREEN), message="the higher priority",
                       timeout_s=15)
            state = p.wait_for(f"{base}/state", lambda s: s["live"]["source"] == high.source)
            assert state["live"]["protocol"] == "e131"
        # The higher one stopped: the lower one takes over once it has timed out.
        wait_until(lambda: _all(eng.panel(), RED), message="the lower priority", timeout_s=15)
    wait_until(lambda: _all(eng.panel(), BLUE), message="the base", timeout_s=15)
    art = ArtNetSender(ports["artnet"], W * H)
    art.frame(solid(W, H, (10, 200, 30)))
    wait_until(lambda: _all(eng.panel(), (10, 200, 30)), message="the Art-Net frame",
               timeout_s=15)
    assert p.wait_for(f"{base}/state", lambda s: s["live"]["active"]
                      and s["live"]["protocol"] == "artnet")
    art.close()
    low.close()
    high.close()


def _e131(tx: E131Sender, index: int, data: bytes, sequence: int | None = None,
          terminated: bool = False) -> bytes:
    from sacn.messages.data_packet import DataPacket

    return bytes(DataPacket(tx.cid, "lightbox test", tx.universe + index, tuple(data),
                            priority=tx.priority, streamTerminated=terminated,
                            sequence=index if sequence is None else sequence).getBytes())


def test_a_garbage_flood_is_counted_frames_keep_coming_and_notifications_draw_over(
        engine_factory: Factory, probe: Probe) -> None:
    eng, ports = start(engine_factory, "live5")
    base = "lightbox/live5"
    p = probe().subscribe(f"{base}/#", wait_s=0.3)
    tx = DDPSender(ports["ddp"])
    junk = [Sender(ports[name]) for name in ("ddp", "e131", "artnet")]
    with Stream(lambda: tx.frame(solid(W, H, GREEN))):
        wait_until(lambda: _all(eng.panel(), GREEN), message="the stream", timeout_s=15)
        before = _metrics_after(p, base, p.mark())
        flood = threading.Thread(target=_flood, args=(junk, 10_000))
        flood.start()
        flood.join(120)
        after = _metrics_after(p, base, p.mark(), n=2)
        assert after["live_packets_invalid_total"] > before["live_packets_invalid_total"]
        assert after["frames_total"] > before["frames_total"]  # the engine kept drawing
        assert after["live_frames_total"] > before["live_frames_total"]  # and showing live
        r = p.request(f"{base}/cmd/notify", {"text": "Hi", "color": "#ffffff",
                                             "background": "#000000", "duration_s": 60})
        assert r["ok"], r

        def both() -> bool:
            f = eng.panel()
            return f is not None and bool((f == (255, 255, 255)).all(axis=2).any()
                                          and (f == GREEN).all(axis=2).any())
        wait_until(both, message="the banner over the stream", timeout_s=15)
    assert eng.alive() and p.last(f"{base}/status") == "online"
    for s in junk:
        s.close()
    tx.close()


def _flood(senders: list[Sender], n: int) -> None:
    """``n`` packets of garbage spread over the three ports: short, foreign, malformed."""
    kinds = [b"", b"\x41", os.urandom(9), b"Art-Net\0" + os.urandom(4), os.urandom(600),
             b"\x41\x01\x0b\x01\xff\xff\xff\xff\x05\xa0" + os.urandom(1440)]
    for i in range(n):
        senders[i % len(senders)].raw(kinds[i % len(kinds)])


def test_a_port_in_use_is_a_health_reason_and_a_new_port_fixes_it(engine_factory: Factory,
                                                                  probe: Probe) -> None:
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    holder.bind(("127.0.0.1", 0))
    taken = holder.getsockname()[1]
    try:
        eng, _ = start(engine_factory, "live6", ddp={"port": taken})
        base = "lightbox/live6"
        p = probe().subscribe(f"{base}/#", wait_s=0.3)
        p.wait_for(f"{base}/health", lambda h: any("realtime input" in r
                                                   for r in h.get("reasons", [])),
                   timeout_s=20)
        fresh = free_udp_port()
        r = p.request(f"{base}/cmd/config", {"realtime": {"ddp": {"port": fresh}}})
        assert r["ok"], r
        mark = p.mark()
        p.wait_for(f"{base}/health", lambda h: not any("realtime input" in r
                                                       for r in h.get("reasons", [])),
                   since=mark, timeout_s=20)
        tx = DDPSender(fresh)
        tx.frame(solid(W, H, GREEN))
        wait_until(lambda: _all(eng.panel(), GREEN), message="a frame on the new port",
                   timeout_s=15)
        tx.close()
    finally:
        holder.close()


def test_cmd_config_turns_realtime_on_and_off_live(engine_factory: Factory, probe: Probe) -> None:
    port = free_udp_port()
    eng = engine_factory("live7", display={"driver": "virtual", "rows": H, "cols": W},
                         animation={"default": "solid", "boot": "default",
                                    "params": {"solid": {"color": "#0000ff"}}},
                         realtime={"bind": "127.0.0.1", "ddp": {"port": port}})
    wait_until(lambda: _all(eng.panel(), BLUE), message="the blue base", timeout_s=15)
    base = "lightbox/live7"
    p = probe().subscribe(f"{base}/#", wait_s=0.3)
    tx = DDPSender(port)
    r = p.request(f"{base}/cmd/config", {"realtime": {"ddp": {"enabled": True}}})
    assert r["ok"] and r.get("restart_required") in (None, []), r
    with Stream(lambda: tx.frame(solid(W, H, GREEN))):
        wait_until(lambda: _all(eng.panel(), GREEN), message="the stream once enabled",
                   timeout_s=15)
        mark = p.mark()
        r = p.request(f"{base}/cmd/config", {"realtime": {"ddp": {"enabled": False}}})
        assert r["ok"], r
        wait_until(lambda: _all(eng.panel(), BLUE), message="the base once disabled",
                   timeout_s=15)
        ended = p.wait_for(f"{base}/events", lambda e: e.get("event") == "live_ended",
                           since=mark)
        assert ended["reason"] in ("stopped", "terminated"), ended
    tx.close()
