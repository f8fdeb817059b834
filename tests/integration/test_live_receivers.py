"""The realtime receivers over real UDP on loopback (``LiveInput``; no engine, no broker).

Senders that are not our receivers: the ``sacn`` library's ``sACNsender`` (with a
socket of its documented ``socket=`` hook that sends to our test port, since its own
always sends to 5568), ``stupidArtnet``'s ``StupidArtnet``, and a DDP sender written
here to the protocol's documentation (its header is checked byte for byte in
tests/unit/test_live_parsers.py). Every wait has a deadline; nothing asserts timing.
``test_measure_rate_and_cpu`` prints the receiver's numbers (run with ``-s``).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import psutil
import pytest

from appliance.content.live.model import FrameSlot, LiveFrame, Protocol
from appliance.content.live.receiver import LiveInput
from appliance.settings.realtime_schema import (
    ArtNetSettings,
    DDPSettings,
    E131Settings,
    RealtimeSettings,
)
from tests.support import wait_until

W, H = 32, 16  # 512 pixels: two DDP packets, four universes (the last one short)


def settings(**over: Any) -> RealtimeSettings:
    """Settings with every receiver on port 0 (a free port: settings.json cannot say 0)."""
    rt: dict[str, Any] = {"bind": "127.0.0.1", "timeout_s": 1.0,
                          "ddp": {"enabled": True, "port": 0},
                          "e131": {"enabled": True, "port": 0, "multicast": False},
                          "artnet": {"enabled": True, "port": 0}}
    for k, v in over.items():
        rt[k] = {**rt[k], **v} if isinstance(v, dict) else v
    return RealtimeSettings.model_construct(
        ddp=DDPSettings.model_construct(**rt.pop("ddp")),
        e131=E131Settings.model_construct(**rt.pop("e131")),
        artnet=ArtNetSettings.model_construct(**rt.pop("artnet")), **rt)


@pytest.fixture
def live() -> Iterator[LiveInput]:
    rx = LiveInput(device_id="test-device")
    rx.start(settings(), W, H)
    yield rx
    rx.stop()


def solid(rgb: tuple[int, int, int], w: int = W, h: int = H) -> bytes:
    return bytes(rgb) * (w * h)


def shows(rx: LiveInput, rgb: tuple[int, int, int]) -> LiveFrame | None:
    f = rx.slot.latest()
    return f if f is not None and bool((f.pixels == rgb).all()) else None


class DDPSender:
    """DDP to the documentation: 10-byte header, 1440 data bytes a packet, push on the last."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = port
        self.source = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.seq = 0

    def packets(self, data: bytes, push: bool = True, upto: int | None = None) -> list[bytes]:
        data = data[:upto]
        self.seq = self.seq % 15 + 1
        offsets = range(0, len(data), 1440)
        out = []
        for i, off in enumerate(offsets):
            chunk = data[off:off + 1440]
            flags = 0x40 | (0x01 if push and i == len(offsets) - 1 else 0)
            head = bytes([flags, self.seq, 0x0B, 0x01]) + off.to_bytes(4, "big") \
                + len(chunk).to_bytes(2, "big")
            out.append(head + chunk)
        return out

    def frame(self, data: bytes, push: bool = True, upto: int | None = None) -> None:
        for p in self.packets(data, push, upto):
            self.sock.sendto(p, ("127.0.0.1", self.port))

    def close(self) -> None:
        self.sock.close()


def sacn_sender(port: int, priority: int = 100, universes: int = 4) -> Any:
    """A ``sacn.sACNsender`` whose packets (data, sync) all go to 127.0.0.1:``port``."""
    from sacn import sACNsender
    from sacn.sending.sender_socket_base import SenderSocketBase

    class ToPort(SenderSocketBase):
        def __init__(self) -> None:
            super().__init__(listener=None)
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind(("127.0.0.1", 0))

        def start(self) -> None:  # manual flush only: no background thread
            pass

        def stop(self) -> None:
            self.sock.close()

        def send_unicast(self, data: Any, destination: str) -> None:
            self.sock.sendto(bytes(data.getBytes()), ("127.0.0.1", port))

        def send_multicast(self, data: Any, destination: str, ttl: int) -> None:
            self.send_unicast(data, destination)

        def send_broadcast(self, data: Any) -> None:
            pass

    out = ToPort()
    sender = sACNsender(source_name="lightbox test", universeDiscovery=False, socket=out)
    sender.manual_flush = True  # flush() sends on our thread: no start() (it would close us)
    for u in range(1, universes + 1):
        sender.activate_output(u)
        sender[u].priority = priority
    sender.source = f"127.0.0.1:{out.sock.getsockname()[1]}"
    sender.raw = out
    return sender


def sacn_set(sender: Any, data: bytes) -> None:
    for i, u in enumerate(sorted(sender.get_active_outputs())):
        sender[u].dmx_data = tuple(data[i * 510:(i + 1) * 510])


def e131_data(sender: Any, universe: int, data: bytes, seq: int, priority: int = 100) -> bytes:
    from sacn.messages.data_packet import DataPacket

    cid = tuple(sender._sender_handler._CID)
    return bytes(DataPacket(cid, "lightbox test", universe, tuple(data), priority=priority,
                            sequence=seq).getBytes())


def test_ports_are_exposed_and_a_whole_ddp_frame_shows_a_partial_does_not(live: LiveInput) -> None:
    assert set(live.ports) == {"ddp", "e131", "artnet"} and all(live.ports.values())
    tx = DDPSender(live.ports["ddp"])
    tx.frame(solid((255, 0, 0)), push=False)
    tx.frame(solid((255, 0, 0)), upto=W * H * 3 - 30)
    wait_until(lambda: live.counters.packets_total >= 4, message="the packets")
    assert live.slot.latest() is None and live.counters.frames_incomplete_total == 1
    tx.frame(solid((0, 255, 0)))
    f = wait_until(lambda: shows(live, (0, 255, 0)), message="the green frame")
    assert f.protocol == "ddp" and f.source == tx.source and f.pixels.shape == (H, W, 3)
    tx.close()


def test_e131_from_sacns_sender_with_sync_partial_and_out_of_order(live: LiveInput) -> None:
    tx = sacn_sender(live.ports["e131"])
    try:
        frame = solid((0, 0, 255))
        tx.raw.sock.sendto(e131_data(tx, 1, frame[:510], 0), ("127.0.0.1", live.ports["e131"]))
        wait_until(lambda: live.counters.packets_total >= 1, message="one universe")
        assert live.slot.latest() is None  # one universe of four: not a frame
        sacn_set(tx, frame)
        tx.flush()  # four data packets (sync address 63999), then the sync packet
        f = wait_until(lambda: shows(live, (0, 0, 255)), message="the synced frame")
        assert f.protocol == "e131" and f.source == tx.source
        sacn_set(tx, solid((9, 9, 9)))
        for u in range(1, 5):  # sequence 0 again: within 20 behind the last, dropped
            data = solid((9, 9, 9))[(u - 1) * 510:u * 510]
            tx.raw.sock.sendto(e131_data(tx, u, data, 0), ("127.0.0.1", live.ports["e131"]))
        wait_until(lambda: live.counters.by_reason.get("e131_out_of_order", 0) >= 4,
                   message="the late packets dropped")
        assert shows(live, (0, 0, 255))
    finally:
        tx.stop()


def test_e131_priority_and_stream_terminated(live: LiveInput) -> None:
    low, high = sacn_sender(live.ports["e131"], 100), sacn_sender(live.ports["e131"], 150)
    try:
        sacn_set(low, solid((1, 0, 0)))
        low.flush()
        wait_until(lambda: shows(live, (1, 0, 0)), message="the low-priority frame")
        sacn_set(high, solid((0, 2, 0)))
        high.flush()
        f = wait_until(lambda: shows(live, (0, 2, 0)), message="the higher priority")
        assert f.priority == 150 and f.source == high.source
        sacn_set(low, solid((3, 0, 0)))
        low.flush()
        wait_until(lambda: live.counters.by_reason.get("not_owner", 0) >= 4,
                   message="the lower one ignored")
        assert shows(live, (0, 2, 0))
        for u in range(1, 5):
            high.deactivate_output(u)  # three stream-terminated packets each
        wait_until(lambda: live.slot.ended() is not None, message="the stream's end")
        assert live.slot.ended() == (high.source, f.seq)
        low.flush()  # the layer is free at once, no timeout to wait for
        wait_until(lambda: shows(live, (3, 0, 0)), message="the low-priority source again")
    finally:
        low.stop()
        high.stop()


def test_artnet_from_stupidartnet_with_artsync_and_artpoll_is_answered(live: LiveInput) -> None:
    from stupidArtnet import StupidArtnet

    port = live.ports["artnet"]
    outs = [StupidArtnet("127.0.0.1", u, 510, 30, artsync=(u == 3), port=port) for u in range(4)]
    try:
        data = solid((10, 200, 30))
        for i, out in enumerate(outs):
            out.send(bytearray(data[i * 510:(i + 1) * 510].ljust(510, b"\0")))
        wait_until(lambda: shows(live, (10, 200, 30)), message="the Art-Net frame")
        poller = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        poller.bind(("127.0.0.1", 0))
        poller.settimeout(5)
        poller.sendto(b"Art-Net\0\x00\x20\x00\x0e\x06\x00", ("127.0.0.1", port))
        reply, addr = poller.recvfrom(1024)
        poller.close()
        assert addr == ("127.0.0.1", port) and len(reply) == 239
        assert reply[8:10] == b"\x00\x21" and reply[10:14] == bytes([127, 0, 0, 1])
        assert reply[26:34] == b"LightBox" and b"test-device" in reply[44:108]
        assert reply[173] == 4 and reply[190:194] == bytes([0, 1, 2, 3])
    finally:
        for out in outs:
            out.close()


def test_a_garbage_flood_is_counted_and_the_receiver_keeps_working(live: LiveInput) -> None:
    import os

    kinds = [b"", b"\x41", os.urandom(9), b"Art-Net\0" + os.urandom(4), os.urandom(600),
             b"\x41\x01\x0b\x01\xff\xff\xff\xff\x05\xa0" + os.urandom(1440),
             b"\x00\x10\x00\x00ASC-E1.17\0\0\0" + os.urandom(100)]
    junk = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ports = list(live.ports.values())
    before = live.counters.packets_total
    for i in range(10_000):
        junk.sendto(kinds[i % len(kinds)], ("127.0.0.1", ports[i % 3]))
        if i % 100 == 99:  # closed-loop pacing so no datagram is lost to a full kernel buffer
            wait_until(lambda: live.counters.packets_total - before >= i - 200,  # noqa: B023
                       interval_s=0.001, message="the receivers to keep up")
    junk.close()
    wait_until(lambda: live.counters.packets_total - before == 10_000, message="all counted")
    c = live.counters
    assert c.packets_invalid_total + c.packets_ignored_total == 10_000 and c.errors_total == 0
    assert all(t.is_alive() for t in (w.thread for w in live._workers.values()) if t)
    tx = DDPSender(live.ports["ddp"])
    tx.frame(solid((4, 5, 6)))
    wait_until(lambda: shows(live, (4, 5, 6)), message="a frame after the flood")
    tx.close()


def test_reconfigure_restarts_only_what_changed_and_stop_is_prompt() -> None:
    rx = LiveInput()
    rx.start(settings(), W, H)
    try:
        before = dict(rx.ports)
        threads = {p: w.thread for p, w in rx._workers.items()}
        rx.reconfigure(settings(timeout_s=3.0, artnet={"universe": 5}))
        assert rx.arbiter.timeout_s == 3.0
        assert rx._workers["ddp"].thread is threads["ddp"] and rx.ports["ddp"] == before["ddp"]
        assert rx._workers["artnet"].thread is not threads["artnet"]
        rx.reconfigure(settings(ddp={"enabled": False}))
        assert "ddp" not in rx.ports
    finally:
        t0 = time.monotonic()
        rx.stop()
        stop_s = time.monotonic() - t0
    assert rx.ports == {} and stop_s < 10  # (generous: the socket timeout is 0.2 s)


def test_a_port_in_use_raises_and_leaves_nothing_bound() -> None:
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    holder.bind(("127.0.0.1", 0))
    taken = holder.getsockname()[1]
    rx = LiveInput()
    try:
        with pytest.raises(OSError):
            rx.start(settings(artnet={"port": taken}), W, H)
        assert rx.ports == {}
    finally:
        holder.close()
        rx.stop()


def test_e131_multicast_on_loopback_when_the_host_routes_it() -> None:
    rx = LiveInput()
    rx.start(settings(bind="0.0.0.0", ddp={"enabled": False}, artnet={"enabled": False},
                      e131={"multicast": True}), W, H)
    try:
        tx = sacn_sender(0)  # only for its encoder
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
            data = solid((7, 8, 9))
            for u in range(1, 5):
                s.sendto(e131_data(tx, u, data[(u - 1) * 510:u * 510], 1),
                         (f"239.255.0.{u}", rx.ports["e131"]))
        except OSError as exc:
            pytest.skip(f"no multicast here: {exc}")
        finally:
            s.close()
            tx.stop()
        try:
            wait_until(lambda: shows(rx, (7, 8, 9)), timeout_s=3, message="multicast")
        except TimeoutError:
            pytest.skip("this host does not loop multicast back to the joined groups")
    finally:
        rx.stop()


SENDER = r"""
import socket, sys, time
proto, port, fps, seconds, w, h = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), \
    float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
data = bytes(range(256)) * (w * h * 3 // 256 + 1)
data = data[:w * h * 3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
if proto == "ddp":
    offs = list(range(0, len(data), 1440))
    pkts = [bytes([0x40 | (i == len(offs) - 1), 1, 0x0B, 1]) + o.to_bytes(4, "big")
            + len(data[o:o + 1440]).to_bytes(2, "big") + data[o:o + 1440]
            for i, o in enumerate(offs)]
elif proto == "artnet":
    pkts = [bytearray(b"Art-Net\0\x00\x50\x00\x0e\x00\x00" + bytes([i & 0xFF, i >> 8])
                      + (510).to_bytes(2, "big") + data[o:o + 510].ljust(510, b"\0"))
            for i, o in enumerate(range(0, len(data), 510))]
else:
    from sacn.messages.data_packet import DataPacket
    pkts = [bytearray(DataPacket(tuple(range(16)), "bench", 1 + i, tuple(data[o:o + 510]))
                      .getBytes()) for i, o in enumerate(range(0, len(data), 510))]
sent, t0, nxt = 0, time.monotonic(), time.monotonic()
while time.monotonic() - t0 < seconds:
    for p in pkts:
        if proto == "e131":
            p[111] = sent & 0xFF
        s.sendto(p, ("127.0.0.1", port))
    sent += 1
    nxt += 1.0 / fps
    time.sleep(max(0.0, nxt - time.monotonic()))
print(sent)
"""


def _measure(rx: LiveInput, proto: Protocol, fps: float, seconds: float, w: int,
             h: int) -> dict[str, float]:
    before_frames, proc = rx.counters.frames_total, psutil.Process()
    cpu0, t0 = sum(proc.cpu_times()[:2]), time.monotonic()
    out = subprocess.run([sys.executable, "-c", SENDER, proto, str(rx.ports[proto]), str(fps),
                          str(seconds), str(w), str(h)], capture_output=True, text=True,
                         check=True, timeout=60)
    time.sleep(0.2)  # the last packets
    wall, cpu = time.monotonic() - t0, sum(proc.cpu_times()[:2]) - cpu0
    sent, got = int(out.stdout), rx.counters.frames_total - before_frames
    return {"sent": sent, "received": got, "fps_received": got / seconds,
            "cpu_pct_of_one_core": 100.0 * cpu / wall}


def test_measure_rate_and_cpu() -> None:
    """The receiver's numbers at 128x64 (printed); asserts only that frames arrived whole."""
    results = {}
    runs: list[tuple[Protocol, float]] = [("ddp", 30.0), ("e131", 30.0), ("artnet", 30.0),
                                          ("ddp", 240.0), ("e131", 240.0), ("artnet", 240.0)]
    for proto, fps in runs:
        rx = LiveInput()  # a fresh one: no other source holds the layer
        rx.start(settings(), 128, 64)
        try:
            results[f"{proto}@{fps:g}"] = r = _measure(rx, proto, fps, 3.0, 128, 64)
            assert r["received"] > 0 and rx.counters.errors_total == 0
            f = rx.slot.latest()
            assert f is not None and f.pixels.shape == (64, 128, 3)
            assert bytes(np.ascontiguousarray(f.pixels).tobytes()[:3]) == b"\x00\x01\x02"
        finally:
            rx.stop()
    for name, r in results.items():
        print(f"\n{name}: " + ", ".join(f"{k}={v:.1f}" for k, v in r.items()))


class _TimedSlot(FrameSlot):
    """A FrameSlot that notes when each frame was put (the receiver's last step)."""

    def __init__(self) -> None:
        super().__init__()
        self.put_at: dict[int, float] = {}

    def put(self, frame: LiveFrame) -> bool:
        self.put_at[frame.seq] = time.monotonic()
        return super().put(frame)


def test_measure_packet_to_slot_latency() -> None:
    """Last packet sent -> whole frame in the slot, at 128x64 and 30 fps (printed)."""
    out = {}
    for proto in ("ddp", "e131"):
        rx = LiveInput()
        rx.slot = rx.arbiter.slot = _TimedSlot()
        rx.start(settings(), 128, 64)
        tx = DDPSender(rx.ports["ddp"])
        e131_tx = sacn_sender(rx.ports["e131"], universes=49)
        lat: list[float] = []
        try:
            for n in range(60):
                data = solid((n, 1, 2), 128, 64)
                if proto == "ddp":
                    sock, port = tx.sock, rx.ports["ddp"]
                    pkts = tx.packets(data)
                else:
                    sock, port = e131_tx.raw.sock, rx.ports["e131"]
                    pkts = [e131_data(e131_tx, u, data[(u - 1) * 510:u * 510], n)
                            for u in range(1, 50)]
                for p in pkts[:-1]:
                    sock.sendto(p, ("127.0.0.1", port))
                sent = time.monotonic()
                sock.sendto(pkts[-1], ("127.0.0.1", port))
                f = wait_until(lambda: shows(rx, (n, 1, 2)), interval_s=0.002,  # noqa: B023
                               message="the frame")
                lat.append(rx.slot.put_at[f.seq] - sent)
                time.sleep(1 / 30)
        finally:
            rx.stop()
            tx.close()
            e131_tx.stop()
        ms = sorted(x * 1000 for x in lat)
        out[proto] = (ms[len(ms) // 2], ms[int(len(ms) * 0.99)])
        assert rx.counters.errors_total == 0
    for proto, (p50, p99) in out.items():
        print(f"\n{proto} last packet -> slot: p50 {p50:.2f} ms, p99 {p99:.2f} ms")


FLOODER = r"""
import os, socket, sys, time
ports, seconds = [int(p) for p in sys.argv[1].split(",")], float(sys.argv[2])
kinds = [b"", b"\x41", os.urandom(9), b"Art-Net\0" + os.urandom(4), os.urandom(600),
         b"\x41\x01\x0b\x01\xff\xff\xff\xff\x05\xa0" + os.urandom(1440)]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
n, t0 = 0, time.monotonic()
while time.monotonic() - t0 < seconds:
    for k in kinds:
        for p in ports:
            s.sendto(k, ("127.0.0.1", p))
            n += 1
print(n)
"""


def _render_like(seconds: float) -> int:
    """A 30 fps loop doing a frame's worth of numpy work; returns the frames it made."""
    img = np.zeros((64, 128, 3), np.float32)
    frames, t0, nxt = 0, time.monotonic(), time.monotonic()
    while time.monotonic() - t0 < seconds:
        np.clip(img * 0.5 + 3.0, 0, 255).astype(np.uint8)
        frames += 1
        nxt += 1 / 30
        time.sleep(max(0.0, nxt - time.monotonic()))
    return frames


def test_measure_a_flood_against_a_render_loop() -> None:
    """Frames a 30 fps loop in the receivers' process makes during a garbage flood (printed)."""
    rx = LiveInput()
    rx.start(settings(), 128, 64)
    try:
        quiet = _render_like(3.0)
        before = rx.counters.packets_total
        flood = subprocess.Popen([sys.executable, "-c", FLOODER,
                                  ",".join(str(p) for p in rx.ports.values()), "3.5"],
                                 stdout=subprocess.PIPE, text=True)
        time.sleep(0.3)
        flooded = _render_like(3.0)
        out, _ = flood.communicate(timeout=60)
        counted = rx.counters.packets_total - before
        assert flooded > 0 and rx.counters.errors_total == 0
        print(f"\nrender-like loop: {quiet} frames quiet, {flooded} during the flood "
              f"({100 * flooded / quiet:.0f}%); flood sent {int(out)}, counted {counted} "
              f"({counted / 3.5:.0f}/s), invalid {rx.counters.packets_invalid_total}")
    finally:
        rx.stop()
