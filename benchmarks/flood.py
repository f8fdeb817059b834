"""Section 5, command flood: 10,000 commands as fast as one client can send them.

The engine runs at 30 fps on 64x64. One paho client publishes 10,000
``cmd/brightness`` commands back to back (qos 0, the fastest a client can
send), the last one with a value no other carries. Measured: the engine's
frame rate during the flood as a fraction of target (``frames_total`` deltas
between metrics documents, and ``frames_dropped``), what happened to the
commands (counted, dropped by the newest-wins queue, lost before the engine),
and the time from the last send until the final state is published. Its floor,
in the same run: the same flood into a bare paho MQTT 5 subscriber in its own
process (``benchmarks.echo --sink``), timed until it has read the last. The frame
rate is taken over the flood window (last metrics before the first send to
first metrics after the final state) because 1 s windows timed by the
metrics' arrival carry the telemetry thread's own jitter under load; the
engine's ``frames_dropped`` counts every late frame slot exactly.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.ops.broker import LocalBroker
from benchmarks.common import Check, check, rnd
from benchmarks.harness import Client, EngineRun, engine_settings
from benchmarks.latency import PING, PONG, start_echo, stop_echo

FPS = 30
FINAL = 7  # no flood command carries this brightness


def sink_floor(broker: LocalBroker, n: int) -> dict[str, Any]:
    """Flood a bare paho subscriber in its own process; time until it has read everything."""
    proc = start_echo(broker, sink=True)
    client = Client(broker, name="bench-flood-floor").connect()
    try:
        client.subscribe(PONG)
        start = time.perf_counter()
        for i in range(n - 1):
            client.client.publish(PING, str(20 + i % 80), qos=0)
        client.client.publish(PING, "END", qos=1)
        sent = time.perf_counter()
        count = client.wait(PONG, None, 60)
        got = client.latest_at[PONG]
    finally:
        client.close()
        stop_echo(proc)
    return {"send_s": rnd(sent - start, 3), "received": count,
            "drained_after_last_send_s": rnd(got - sent, 3),
            "drained_after_first_send_s": rnd(got - start, 3),
            "read_rate_per_s": rnd(n / (got - start), 0)}


@dataclass
class _Flood:
    """What one flood run saw: send times, the final state's arrival, the metrics."""

    start: float
    sent: float
    got: float
    final_ok: bool
    m0: dict[str, Any]
    m1: dict[str, Any]
    hist: list[tuple[float, dict[str, Any]]]


def _flood(broker: LocalBroker, workdir: Path, n: int) -> _Flood:
    """Run an engine, send the flood, wait for the final state and whole metrics intervals."""
    with EngineRun(broker, workdir / "flood", engine_settings(broker, 64, 64, FPS)) as r:
        sender = Client(broker, name="bench-flood").connect()
        try:
            time.sleep(1.5)
            t_m0, m0 = r.next_metrics()
            topic = r.cmd("brightness")
            start = time.perf_counter()
            for i in range(n - 1):
                sender.client.publish(topic, str(20 + i % 80), qos=0)
            sender.client.publish(topic, str(FINAL), qos=1)
            sent = time.perf_counter()
            state_topic = r.topic("state")
            final_ok = True
            try:
                r.client.wait(state_topic, lambda s: s.get("brightness") == FINAL, 30)
            except TimeoutError:
                final_ok = False
            got = r.client.latest_at.get(state_topic, float("nan"))
            # Let the metrics cover the whole flood with whole intervals on both sides.
            end_wait = time.perf_counter() + 2.5
            while time.perf_counter() < end_wait:
                time.sleep(0.1)
            _, m1 = r.next_metrics()
        finally:
            sender.close()
        hist = r.metrics_since(t_m0)
    return _Flood(start, sent, got, final_ok, m0, m1, hist)


def run(broker: LocalBroker, workdir: Path, quick: bool) -> tuple[dict[str, Any], list[Check]]:
    """Flood the engine and watch its frame rate and final state (after the paho floor)."""
    n = 10_000
    floor = sink_floor(broker, n)
    f = _flood(broker, workdir, n)
    start, sent, got, final_ok, m0, m1, hist = (f.start, f.sent, f.got, f.final_ok, f.m0,
                                                 f.m1, f.hist)
    rates = []
    for (ta, a), (tb, b) in itertools.pairwise(hist):
        if tb - ta > 0.2:
            rates.append((b["frames_total"] - a["frames_total"]) / (tb - ta))
    # The flood window: the last metrics before the first send to the first after the
    # final state (several seconds, so the metrics' own publish jitter hardly counts).
    before = [(t, m) for t, m in hist if t <= start] or hist[:1]
    after = [(t, m) for t, m in hist if t >= (got if final_ok else sent)] or hist[-1:]
    (tw0, w0), (tw1, w1) = before[-1], after[0]
    window_fps = (w1["frames_total"] - w0["frames_total"]) / max(tw1 - tw0, 1e-9)
    window_dropped = w1["frames_dropped"] - w0["frames_dropped"]
    received = m1["commands_total"] - m0["commands_total"]
    dropped_q = m1.get("commands_dropped_total", 0) - m0.get("commands_dropped_total", 0)
    out = {
        "floor_bare_paho_subscriber": floor,
        "commands": n,
        "send_s": rnd(sent - start, 3),
        "send_rate_per_s": rnd(n / (sent - start), 0),
        "final_state_published": final_ok,
        "final_state_after_last_send_s": rnd(got - sent, 3) if final_ok else None,
        "final_state_after_first_send_s": rnd(got - start, 3) if final_ok else None,
        "engine_read_rate_per_s": rnd(n / (got - start), 0) if final_ok else None,
        "commands_counted_by_engine": received,
        "commands_superseded_in_queue": dropped_q,
        "commands_lost_before_engine": n - received,
        "rejected": m1["commands_rejected_total"] - m0["commands_rejected_total"],
        "flood_window_s": rnd(tw1 - tw0, 3),
        "fps_flood_window": rnd(window_fps, 2),
        "fps_fraction_flood_window": rnd(window_fps / FPS, 4),
        "frames_dropped_flood_window": window_dropped,
        "fps_min_1s_interval": rnd(min(rates), 2) if rates else None,
        "fps_1s_intervals": [rnd(x, 2) for x in rates],
        "frames_dropped": m1["frames_dropped"] - m0["frames_dropped"],
        "frame_ms_p99_max": rnd(max(m["frame_ms_p99"] for _, m in hist), 3),
    }
    checks = [
        check("flood", "fps during flood", window_fps / FPS * 100, "% of target", ">=", 95,
              note=f"{window_dropped} frame slots missed; min 1 s window "
                   f"{rnd(min(rates) / FPS * 100, 1) if rates else None} %"),
        check("flood", "final state after last command",
              (got - sent) if final_ok else None, "s", "<", 1.0,
              note=f"floor: a bare paho subscriber drains the same flood "
                   f"{floor['drained_after_last_send_s']} s after the last send"),
    ]
    return out, checks
