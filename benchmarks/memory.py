"""Section 6, memory over time: RSS over 200,000 uncapped frames with commands arriving.

The engine runs uncapped on 64x64 while a client sends a command every 50 ms,
cycling through brightness, power and every effect animation (so
animations are built and dropped all the time). RSS of the child is sampled
with psutil against ``frames_total``. Growth after warm-up: the median RSS of
the last tenth of the run minus the median of the tenth right after warm-up
(the first quarter of the frames), plus a least-squares slope.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from appliance.ops.broker import LocalBroker
from benchmarks.common import Check, check, median, rnd
from benchmarks.harness import Client, EngineRun, engine_settings

COMMAND_INTERVAL_S = 0.05


def _commander(run: EngineRun, client: Client, effects: list[str], stop: threading.Event,
               sent: list[int]) -> None:
    i = 0
    while not stop.wait(COMMAND_INTERVAL_S):
        kind = i % 20
        if kind == 18:
            client.publish(run.cmd("power"), "OFF")  # dark for one command interval a second
        elif kind == 19:
            client.publish(run.cmd("power"), "ON")
        elif kind % 2 == 0:
            client.publish(run.cmd("brightness"), str(10 + (i * 7) % 90))
        else:
            client.publish(run.cmd("animation"), effects[(i // 2) % len(effects)])
        i += 1
        sent[0] = i


def run(broker: LocalBroker, workdir: Path, quick: bool) -> tuple[dict[str, Any], list[Check]]:
    """Run the engine uncapped until it has drawn the frames, sampling RSS."""
    target_frames = 20_000 if quick else 200_000
    timeout_s = 120.0 if quick else 900.0
    samples: list[tuple[float, int, float]] = []  # (seconds, frames since start, rss MB)
    with EngineRun(broker, workdir / "memory", engine_settings(broker, 64, 64, 30),
                   uncapped=True) as r:
        effects = _effects(r)
        proc = r.child.psutil()
        sender = Client(broker, name="bench-memory").connect()
        stop = threading.Event()
        sent = [0]
        th = threading.Thread(target=_commander, args=(r, sender, effects, stop, sent),
                              daemon=True)
        _, m0 = r.next_metrics()
        f0 = m0["frames_total"]
        t0 = time.perf_counter()
        th.start()
        try:
            while True:
                frames = r.client.latest[r.topic("metrics")]["frames_total"] - f0
                samples.append((time.perf_counter() - t0, frames,
                                proc.memory_info().rss / 1_048_576))
                if frames >= target_frames or time.perf_counter() - t0 > timeout_s:
                    break
                time.sleep(0.2)
        finally:
            stop.set()
            th.join(2)
            sender.close()
        _, m1 = r.next_metrics()
    arr = np.array(samples)
    frames_done = int(arr[-1, 1])
    warm = arr[arr[:, 1] >= 0.25 * frames_done]
    n = max(1, len(warm) // 10)
    start_mb = median(list(warm[:n, 2]))
    end_mb = median(list(arr[-n:, 2]))
    slope = float(np.polyfit(warm[:, 1], warm[:, 2], 1)[0]) * 100_000 if len(warm) > 2 else 0.0
    out = {
        "panel": "64x64",
        "frames": frames_done,
        "seconds": rnd(float(arr[-1, 0]), 1),
        "fps": rnd(frames_done / float(arr[-1, 0]), 1) if arr[-1, 0] else None,
        "commands_sent": sent[0],
        "commands_counted_by_engine": m1["commands_total"] - m0["commands_total"],
        "animations_cycled": effects,
        "rss_mb_first": rnd(float(arr[0, 2]), 2),
        "rss_mb_after_warmup": rnd(start_mb, 2),
        "rss_mb_end": rnd(end_mb, 2),
        "rss_mb_max": rnd(float(arr[:, 2].max()), 2),
        "growth_after_warmup_mb": rnd(end_mb - start_mb, 3),
        "slope_mb_per_100k_frames": rnd(slope, 3),
        "samples": len(samples),
        "reached_target": frames_done >= target_frames,
    }
    checks = [
        check("memory", f"RSS growth after warm-up ({frames_done:,} frames)", end_mb - start_mb,
              "MB", "<", 2),
    ]
    return out, checks


def _effects(run: EngineRun) -> list[str]:
    """Effect animations from the retained catalogue (all of them, utilities excluded)."""
    topic = run.topic("animations")
    run.client.subscribe(topic)
    cat = run.client.wait(topic, None, 10)
    names = [a["name"] for a in cat if a.get("category", "effect") == "effect"]
    return names or ["plasma", "breathe"]
