"""Section 2, engine at speed: `lightbox engine` at 30 fps with MQTT and metrics, and uncapped.

Measured from outside, as an operator would: CPU % of one core and RSS of the
child process (psutil), achieved fps and dropped frames from the retained
``metrics`` topic's ``frames_total``/``frames_dropped`` deltas, p99 frame time
from the engine's own ``frame_ms_p99``. Uncapped (``--uncapped``) gives the
headroom: the highest frame rate the engine sustains for a 64x64 panel.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

from appliance.ops.broker import LocalBroker
from benchmarks.common import Check, check, median, rnd
from benchmarks.harness import EngineRun, engine_settings


def measure(run: EngineRun, seconds: float) -> dict[str, Any]:
    """Watch a running engine for ``seconds``: CPU, RSS, fps, frame times."""
    proc = run.child.psutil()
    t0, m0 = run.next_metrics()
    c0 = proc.cpu_times()
    w0 = time.perf_counter()
    rss: list[float] = []
    while time.perf_counter() - w0 < seconds:
        rss.append(proc.memory_info().rss / 1_048_576)
        time.sleep(0.25)
    t1, m1 = run.next_metrics()
    c1 = proc.cpu_times()
    w1 = time.perf_counter()
    samples = [m for _, m in run.metrics_since(t0)]
    # Per-interval fps between consecutive metrics documents.
    hist = run.metrics_since(t0)
    rates = []
    for (ta, a), (tb, b) in itertools.pairwise(hist):
        if tb - ta > 0.2:
            rates.append((b["frames_total"] - a["frames_total"]) / (tb - ta))
    frames = m1["frames_total"] - m0["frames_total"]
    cpu = (c1.user + c1.system - c0.user - c0.system) / (w1 - w0) * 100.0
    return {
        "seconds": rnd(t1 - t0, 2),
        "frames": frames,
        "fps": rnd(frames / (t1 - t0), 2),
        "fps_min_interval": rnd(min(rates), 2) if rates else None,
        "fps_median_interval": rnd(median(rates), 2) if rates else None,
        "frames_dropped": m1["frames_dropped"] - m0["frames_dropped"],
        "frame_ms_p50": rnd(median([m["frame_ms_p50"] for m in samples]), 3),
        "frame_ms_p99": rnd(max(m["frame_ms_p99"] for m in samples), 3),
        "frame_ms_p99_median": rnd(median([m["frame_ms_p99"] for m in samples]), 3),
        "cpu_percent_one_core": rnd(cpu, 2),
        "rss_mb_median": rnd(median(rss), 1),
        "rss_mb_max": rnd(max(rss), 1),
        "metrics_samples": len(samples),
    }


def run(broker: LocalBroker, workdir: Path, quick: bool) -> tuple[dict[str, Any], list[Check]]:
    """Run the engine capped at 30 fps, then uncapped, each at 64x64."""
    seconds = 10.0 if quick else 60.0
    up_seconds = 5.0 if quick else 15.0
    warmup = 2.0 if quick else 5.0
    out: dict[str, Any] = {"panel": "64x64", "animation": "plasma", "target_fps": 30,
                           "metrics_interval_s": 1.0}
    with EngineRun(broker, workdir / "capped", engine_settings(broker, 64, 64, 30)) as r:
        time.sleep(warmup)
        out["capped"] = measure(r, seconds)
    with EngineRun(broker, workdir / "uncapped", engine_settings(broker, 64, 64, 30),
                   uncapped=True) as r:
        time.sleep(warmup)
        out["uncapped"] = measure(r, up_seconds)
    cap, unc = out["capped"], out["uncapped"]
    checks = [
        check("engine", "30 fps: CPU of one core", cap["cpu_percent_one_core"], "%", "<", 5),
        check("engine", "30 fps: RSS", cap["rss_mb_max"], "MB", "<", 80),
        check("engine", "uncapped 64x64 fps (sustained)", unc["fps_min_interval"], "fps", ">",
              600, note=f"mean {unc['fps']}"),
    ]
    return out, checks
