"""Realtime input: packet-to-panel latency, the rate the receivers sustain, CPU, a garbage flood.

In one process: the real engine (``Engine`` on a virtual 128x64 panel at 30 fps,
plasma underneath) and the real receivers (``LiveInput``, DDP on a loopback port)
wired as the service wires them; the senders are child processes where their own
CPU would blur the figure. The display records when each frame reaches ``show``.

- **Packet-to-panel**: a DDP frame of a colour not shown before, sent after a
  random phase of the frame period; the time from sending its last (push) packet
  to the ``show`` of the first panel frame in that colour. Target: at most one
  frame period plus 2 ms (35.3 ms at 30 fps): a frame waits at most one period
  for the next tick, plus the receiver's and the tick's work.
- **Sustained rate**: a sender in a child process sends 128x64 frames as fast as it
  can for a few seconds; frames the receivers completed per second (the panel
  still shows 30 of them: newest wins).
- **CPU**: this process's CPU (% of one core) while a child sends 30 fps, and
  without a stream: the receivers' share is the difference.
- **Flood**: garbage (short, foreign, malformed) as fast as a child sends it, in rounds
  of 10,000 packets for a few seconds, while a 30 fps stream runs: the engine's fps
  and the stream frames it shows per second in that window, over the same before.
"""

from __future__ import annotations

import importlib
import multiprocessing as mp
import os
import random
import socket
import struct
import threading
import time
from typing import Any

import numpy as np

from benchmarks.common import Check, check, median, pct, rnd

W, H, FPS = 128, 64, 30
DDP_MAX = 1440
FLOOD_ROUND = 10_000


def available() -> bool:
    """True when the receivers are installed."""
    try:
        importlib.import_module("appliance.content.live.receiver")
    except ImportError:
        return False
    return True


def _packets(data: bytes) -> list[bytes]:
    """One frame as DDP packets (version 1, RGB 8 bits, push on the last)."""
    offs = range(0, len(data), DDP_MAX)
    return [struct.pack(">BBBBIH", 0x41 if i == len(offs) - 1 else 0x40, 1, 0x0B, 1, off,
                        len(data[off:off + DDP_MAX])) + data[off:off + DDP_MAX]
            for i, off in enumerate(offs)]


def _ddp(sock: socket.socket, port: int, data: bytes) -> None:
    """Send one frame."""
    for pkt in _packets(data):
        sock.sendto(pkt, ("127.0.0.1", port))


def _send_child(port: int, fps: float, seconds: float) -> None:
    """A child process: a stream of 128x64 frames at ``fps`` (0: as fast as it can)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    frame = np.full((H, W, 3), 77, np.uint8).tobytes()
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        _ddp(sock, port, frame)
        if fps:
            time.sleep(1.0 / fps)


def _garbage_child(port: int, seconds: float, sent: Any) -> None:
    """A child process: garbage (short, foreign, malformed) as fast as it can, in rounds of
    10,000 packets, for ``seconds``; the count in ``sent``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    junk = [b"", b"\x41", os.urandom(9), os.urandom(600), b"Art-Net\0" + os.urandom(20),
            b"\x41\x01\x0b\x01\xff\xff\xff\xff\x05\xa0" + os.urandom(1440)]
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        for i in range(FLOOD_ROUND):
            sock.sendto(junk[i % len(junk)], ("127.0.0.1", port))
        sent.value += FLOOD_ROUND


class Rig:
    """The engine and the receivers in this process, and a display that times ``show``."""

    def __init__(self) -> None:
        from animations import REGISTRY
        from appliance.display.virtual import VirtualDisplay
        from appliance.realtime_service import RealtimeService
        from appliance.render.engine import Engine
        from appliance.settings import validate

        self.port = _free_port()
        cfg = validate({"display": {"driver": "virtual", "rows": H, "cols": W, "fps": FPS},
                        "animation": {"default": "plasma", "boot": "default"},
                        "realtime": {"bind": "127.0.0.1", "timeout_s": 0.5,
                                     "ddp": {"enabled": True, "port": self.port}}})
        self.shows: list[tuple[float, bytes]] = []  # (perf_counter at show, pixel 0)
        rig = self

        class Timed(VirtualDisplay):
            def show(self, frame: np.ndarray) -> None:
                super().show(frame)
                rig.shows.append((time.perf_counter(), frame[0, 0].tobytes()))

        self.engine = Engine(cfg, Timed(W, H), REGISTRY)
        self.engine.start()
        self.service = RealtimeService(self.engine.live_input, W, H, self.engine.event)
        self.service.start(cfg.realtime)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.engine.run, args=(self.stop,), daemon=True)

    def __enter__(self) -> Rig:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.service.running and time.monotonic() < deadline:
            time.sleep(0.05)
        if not self.service.running:
            raise RuntimeError(f"receivers did not start: {self.engine.live_input.receiver_error}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)
        self.service.stop()

    def fps(self) -> float:
        return float(self.engine.stats.summary(time.monotonic(), 2.0)["fps"])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def latency(rig: Rig, n: int) -> list[float]:
    """Packet-to-panel in ms for ``n`` frames (each marked by pixel 0, never twice in a row)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    frame = np.zeros((H, W, 3), np.uint8)
    out = []
    for i in range(n):
        mark = bytes((i % 250 + 1, 1, 2))  # pixel 0: a colour plasma does not make
        frame[0, 0] = tuple(mark)
        data = frame.tobytes()
        time.sleep(0.05 + random.random() / FPS)  # a random phase of the frame period
        seen = len(rig.shows)
        pkts = _packets(data)
        for pkt in pkts[:-1]:
            sock.sendto(pkt, ("127.0.0.1", rig.port))
        t0 = time.perf_counter()
        sock.sendto(pkts[-1], ("127.0.0.1", rig.port))
        deadline = time.perf_counter() + 2.0
        while time.perf_counter() < deadline:
            hit = next((t for t, px in rig.shows[seen:] if px == mark), None)
            if hit is not None:
                out.append((hit - t0) * 1000.0)
                break
            time.sleep(0.005)  # (the hit's time is the display's, not this loop's)
    sock.close()
    return out


def _child(rig: Rig, fps: float, seconds: float) -> Any:
    return _spawn(_send_child, rig.port, fps, seconds)


def _spawn(target: Any, *args: Any) -> Any:
    proc = mp.get_context("spawn").Process(target=target, args=args, daemon=True)
    proc.start()
    return proc


def sustained(rig: Rig, seconds: float) -> float:
    """Frames per second the receivers completed from one sender going flat out."""
    c = rig.engine.live_input.counters
    proc = _child(rig, 0, seconds + 1.0)
    time.sleep(1.0)  # the child's start-up
    f0, t0 = c.frames_total, time.perf_counter()
    time.sleep(seconds)
    rate = (c.frames_total - f0) / (time.perf_counter() - t0)
    proc.join(10)
    return rate


def cpu(rig: Rig, seconds: float, stream: bool) -> float:
    """This process's CPU in % of one core over ``seconds`` (with a 30 fps stream or not)."""
    proc = _child(rig, FPS, seconds + 1.5) if stream else None
    time.sleep(1.0)
    c0, t0 = time.process_time(), time.perf_counter()
    time.sleep(seconds)
    used = (time.process_time() - c0) / (time.perf_counter() - t0) * 100.0
    if proc is not None:
        proc.join(10)
    return used


def flood(rig: Rig, seconds: float) -> dict[str, Any]:
    """The engine's fps, and the stream frames it shows, while garbage arrives as fast as a
    child sends it (rounds of 10,000 packets for ``seconds``) beside a 30 fps stream."""
    eng, layer = rig.engine, rig.engine.live_input
    stream = _child(rig, FPS, seconds + 8.0)
    time.sleep(2.0)

    def rates() -> tuple[int, int, float]:
        return eng.stats.frames_total, layer.frames_shown_total, time.perf_counter()

    f0, l0, t0 = rates()
    time.sleep(2.0)
    f1, l1, t1 = rates()
    sent = mp.get_context("spawn").Value("q", 0)
    i0 = layer.counters.packets_invalid_total
    child = _spawn(_garbage_child, rig.port, seconds, sent)
    while layer.counters.packets_invalid_total == i0 and child.is_alive():
        time.sleep(0.01)  # the flood's first packets: the window starts
    f2, l2, t2 = rates()
    child.join(seconds + 30)
    f3, l3, t3 = rates()
    stream.join(15)
    before, during = (f1 - f0) / (t1 - t0), (f3 - f2) / (t3 - t2)
    return {"fps_before": rnd(before, 2), "fps_during": rnd(during, 2),
            "live_fps_before": rnd((l1 - l0) / (t1 - t0), 2),
            "live_fps_during": rnd((l3 - l2) / (t3 - t2), 2),
            "flood_s": rnd(t3 - t2, 2), "packets_sent": int(sent.value),
            "invalid_counted": layer.counters.packets_invalid_total - i0,
            "fps_fraction": rnd(during / before, 3) if before else None}


def run(quick: bool) -> tuple[dict[str, Any], list[Check]]:
    """Run the section (skipped when the receivers are not installed)."""
    if not available():
        return {"status": "skipped", "reason": "realtime receivers not installed"}, []
    n = 60 if quick else 300
    with Rig() as rig:
        time.sleep(1.0)
        lat = latency(rig, n)
        rate = sustained(rig, 3.0 if quick else 10.0)
        idle = cpu(rig, 3.0 if quick else 10.0, stream=False)
        busy = cpu(rig, 3.0 if quick else 10.0, stream=True)
        fl = flood(rig, 3.0 if quick else 10.0)
    frame_ms = 1000.0 / FPS
    out: dict[str, Any] = {
        "panel": f"{W}x{H}", "fps": FPS, "protocol": "ddp", "base": "plasma",
        "packet_to_panel": {"n": len(lat), "p50_ms": rnd(median(lat)), "p99_ms": rnd(pct(lat, 99)),
                            "max_ms": rnd(max(lat) if lat else None)},
        "receiver_fps_sustained": rnd(rate, 1),
        "cpu_percent_idle": rnd(idle, 1), "cpu_percent_30fps_stream": rnd(busy, 1),
        "cpu_percent_receiving": rnd(busy - idle, 1),
        "flood": fl,
    }
    checks = [
        check("live", "packet->panel p99", out["packet_to_panel"]["p99_ms"], "ms", "<=",
              frame_ms + 2, note=f"p50 {out['packet_to_panel']['p50_ms']} ms"),
        check("live", f"receiver fps at {W}x{H}, one sender", rate, "fps", ">=", 60),
        check("live", "fps during a garbage flood / before", fl["fps_fraction"], "", ">=", 0.9,
              note=f"{fl['packets_sent']:,} packets in {fl['flood_s']} s; live frames shown "
                   f"{fl['live_fps_before']} -> {fl['live_fps_during']} /s"),
    ]
    return out, checks


def key_figures(sec: dict[str, Any]) -> list[tuple[str, Any]]:
    """The rows for the bench report's key figures."""
    p2p = sec["packet_to_panel"]
    return [("packet->panel p50 / p99 ms", f"{p2p['p50_ms']} / {p2p['p99_ms']}"),
            ("receiver fps sustained", sec["receiver_fps_sustained"]),
            ("CPU % receiving 30 fps", sec["cpu_percent_receiving"]),
            ("fps before / during flood", f"{sec['flood']['fps_before']} / "
                                          f"{sec['flood']['fps_during']}"),
            ("live frames shown /s before / during flood",
             f"{sec['flood']['live_fps_before']} / {sec['flood']['live_fps_during']}")]
