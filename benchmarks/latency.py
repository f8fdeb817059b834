"""Section 3, command latency: publish a command, time until the engine's new retained state.

Commands go at qos 0 (Home Assistant's default) and, every fourth, also at
qos 1, each against the broker floor measured in the same run and interleaved
with it: a
paho-to-paho echo through the same mosquitto (``benchmarks.echo`` in its own
process, so the hops are the same). Commands are spread over a random phase
of the frame period (a random pause of up to one frame between round trips),
as real commands are; back-to-back commands would all land just after a
frame and always wait a whole period.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from appliance.ops.broker import LocalBroker
from benchmarks.common import Check, check, median, pct, rnd
from benchmarks.harness import Client, EngineRun, child_env, engine_settings

PING = "homeassistant/lightbox_bench/ping"
PONG = "homeassistant/lightbox_bench/pong"
FPS = 30


class RoundTrip:
    """Times one request at a time: publish, then wait for a matching message."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._done = threading.Event()
        self._topic = ""
        self._match: Callable[[bytes], bool] = lambda p: False
        self._at = 0.0
        client.hook = self._hook

    def _hook(self, now: float, topic: str, payload: bytes) -> None:
        if topic == self._topic and not self._done.is_set() and self._match(payload):
            self._at = now
            self._done.set()

    def time(self, topic: str, payload: str, reply_topic: str,
             match: Callable[[bytes], bool], qos: int = 0, timeout_s: float = 5.0) -> float:
        """Return the round trip in ms (raise TimeoutError when no reply comes)."""
        self._done.clear()
        self._topic = reply_topic
        self._match = match
        start = time.perf_counter()
        self.client.publish(topic, payload, qos=qos)
        if not self._done.wait(timeout_s):
            raise TimeoutError(f"no reply on {reply_topic} within {timeout_s} s")
        return (self._at - start) * 1000.0


def _state_has(key: str, value: Any) -> Callable[[bytes], bool]:
    def match(payload: bytes) -> bool:
        try:
            return bool(json.loads(payload).get(key) == value)
        except (ValueError, AttributeError):
            return False
    return match


def _equals(token: bytes) -> Callable[[bytes], bool]:
    return lambda payload: payload == token


def start_echo(broker: LocalBroker, sink: bool = False) -> subprocess.Popen[bytes]:
    """Start the echo process (or, with ``sink``, the counting sink) once it has subscribed."""
    user = "homeassistant"
    p = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.echo", broker.host, str(broker.port), user,
         str(broker.password_file(user)), PING, PONG, *(["--sink"] if sink else [])],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        env=child_env(broker.workdir),
    )
    assert p.stdout is not None
    line = p.stdout.readline()
    if b"ready" not in line:
        p.kill()
        raise RuntimeError(f"echo process did not start: {line!r}")
    return p


def stop_echo(p: subprocess.Popen[bytes]) -> None:
    """Stop the echo process."""
    p.terminate()
    try:
        p.wait(5)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(5)
    if p.stdout:
        p.stdout.close()


def summary(ms: list[float]) -> dict[str, Any]:
    """p50/p90/p99/max of round trips."""
    return {"n": len(ms), "p50_ms": rnd(median(ms), 3), "p90_ms": rnd(pct(ms, 90), 3),
            "p99_ms": rnd(pct(ms, 99), 3), "max_ms": rnd(max(ms) if ms else None, 3)}


def mixed_qos(i: int) -> tuple[int, ...]:
    """qos 0 (Home Assistant's default) for every command, qos 1 as well for every 4th."""
    return (0, 1) if i % 4 == 0 else (0,)


def _brightness_rounds(r: EngineRun, rt: RoundTrip, rng: random.Random, n: int,
                       floor: dict[int, list[float]], bright: dict[int, list[float]],
                       plan: Callable[[int], tuple[int, ...]] = mixed_qos) -> None:
    """``n`` brightness round trips, each interleaved with a broker-floor echo."""
    level = 50
    for i in range(n):
        for qos in plan(i):
            level = 10 + (level - 10 + 1 + rng.randrange(80)) % 89  # a new value
            for which in ((0, 1) if i % 2 else (1, 0)):
                time.sleep(rng.uniform(0, 1 / FPS))
                if which == 0:
                    token = f"{i}-{qos}-{rng.random()}"
                    floor[qos].append(rt.time(PING, token, PONG, _equals(token.encode()), qos))
                else:
                    bright[qos].append(rt.time(
                        r.cmd("brightness"), str(level), r.topic("state"),
                        _state_has("brightness", level), qos))


def _animation_rounds(r: EngineRun, rt: RoundTrip, rng: random.Random, n_anim: int,
                      anim: list[float]) -> None:
    """``n_anim`` animation-change round trips, alternating two animations."""
    names = ["breathe", "plasma"]
    for i in range(n_anim):
        name = names[i % 2]
        time.sleep(rng.uniform(0, 1 / FPS))
        anim.append(rt.time(r.cmd("animation"), name, r.topic("state"),
                            _state_has("effect", name)))


def run(broker: LocalBroker, workdir: Path, quick: bool, n: int | None = None,
        separate_qos: bool = False) -> tuple[dict[str, Any], list[Check]]:
    """Interleave ``n`` command->state round trips with broker-floor echoes.

    ``separate_qos`` (for a stock broker, Nagle on): all qos 0 rounds first, then the
    qos 1 ones, timed by a client that subscribes only to ``state`` and the echo.
    Against such a broker whatever else it sends a client (a PUBACK for the client's
    own qos 1 command, a ``metrics`` document the client subscribed to) makes it hold
    the client's next message until the client's kernel sends its delayed ACK (up to
    40 ms): that is the client's and the broker's, not the engine's, and would hide
    what the engine adds. The floor shows it too when it happens (docs/performance.md).
    """
    n = n or (100 if quick else 1000)
    n_anim = max(10, n // 10)
    rng = random.Random(7)
    floor: dict[int, list[float]] = {0: [], 1: []}
    bright: dict[int, list[float]] = {0: [], 1: []}
    anim: list[float] = []
    echo = start_echo(broker)
    try:
        with EngineRun(broker, workdir / "latency", engine_settings(broker, 64, 64, FPS)) as r:
            client = r.client
            if separate_qos:
                client = own = Client(broker, name="bench-latency")
                own.connect()
                own.subscribe(r.topic("state"))
            client.subscribe(PONG)
            rt = RoundTrip(client)
            if separate_qos:
                _brightness_rounds(r, rt, rng, n, floor, bright, lambda i: (0,))
                _brightness_rounds(r, rt, rng, max(10, n // 4), floor, bright, lambda i: (1,))
            else:
                _brightness_rounds(r, rt, rng, n, floor, bright)
            _animation_rounds(r, rt, rng, n_anim, anim)
            client.hook = None
            if client is not r.client:
                client.close()
    finally:
        stop_echo(echo)
    frame_ms = 1000 / FPS
    b0, f0 = bright[0], floor[0]
    out = {
        "fps": FPS,
        "panel": "64x64",
        "command_qos": 0,
        "floor": summary(f0),
        "brightness_to_state": summary(b0),
        "animation_to_state": summary(anim),
        "p50_over_floor_ms": rnd(median(b0) - median(f0), 3),
        "p50_over_floor_frames": rnd((median(b0) - median(f0)) / frame_ms, 2),
        "qos1": {"floor": summary(floor[1]), "brightness_to_state": summary(bright[1])},
    }
    return out, _checks(b0, f0, bright[1], floor[1], frame_ms)



def _checks(b0: list[float], f0: list[float], b1: list[float], f1: list[float],
            frame_ms: float) -> list[Check]:
    """The section's targets: qos 0 p99 and p50 over the floor, qos 1 p99."""
    checks = [
        check("latency", "command->state p99", pct(b0, 99), "ms", "<", frame_ms + 5,
              target="< 38.3 ms (1 frame + 5)", note="commands at qos 0"),
        check("latency", "command->state p50 over floor", median(b0) - median(f0), "ms",
              "<=", 2 * frame_ms, target="<= 66.7 ms (2 frames)",
              note=f"floor p50 {rnd(median(f0), 2)} ms"),
        check("latency", "command->state p99 (qos 1)", pct(b1, 99), "ms", "<",
              frame_ms + 5, target="< 38.3 ms (1 frame + 5)",
              note=f"floor p99 {rnd(pct(f1, 99), 2)} ms"),
    ]
    return checks


def key_figures(sec: dict[str, Any], nodelay: str) -> list[tuple[str, Any]]:
    """The latency section's lines in the bench report's key figures."""
    from benchmarks.cli import _fmt

    out = [("floor p50 / p99 ms", f"{_fmt(sec['floor']['p50_ms'])} / "
                                  f"{_fmt(sec['floor']['p99_ms'])}"),
           ("brightness->state p50 / p99 ms",
            f"{_fmt(sec['brightness_to_state']['p50_ms'])} / "
            f"{_fmt(sec['brightness_to_state']['p99_ms'])}"),
           ("animation->state p50 / p99 ms",
            f"{_fmt(sec['animation_to_state']['p50_ms'])} / "
            f"{_fmt(sec['animation_to_state']['p99_ms'])}")]
    stock = sec.get("stock_broker")
    if stock:
        out += [("stock broker: floor p50 / p99 ms",
                 f"{_fmt(stock['floor']['p50_ms'])} / {_fmt(stock['floor']['p99_ms'])}"),
                ("stock broker: brightness->state p50 / p99 ms",
                 f"{_fmt(stock['brightness_to_state']['p50_ms'])} / "
                 f"{_fmt(stock['brightness_to_state']['p99_ms'])}")]
    alt = sec.get("with_broker_nodelay")
    if alt:
        out += [(f"with {nodelay}: floor p50 / p99 ms",
                 f"{_fmt(alt['floor']['p50_ms'])} / {_fmt(alt['floor']['p99_ms'])}"),
                (f"with {nodelay}: brightness->state p50 / p99 ms",
                 f"{_fmt(alt['brightness_to_state']['p50_ms'])} / "
                 f"{_fmt(alt['brightness_to_state']['p99_ms'])}")]
    return out
