"""Section 1, frame cost: draw + colour choke point + virtual ``show`` per animation and size.

Each frame is timed twice: wall clock (``perf_counter``) and the drawing
thread's CPU time (``thread_time``). The p99 figures are the median over
repeats of each repeat's p99. The targets are checked on CPU time, the
frame's own cost, because on a shared machine wall-clock p99 mostly measures
how often other processes preempted this one; both are reported.

Baseline in the same run, interleaved with the subject: the same frame pushed
out the way the old scripts and hzeller's Python samples do it, a Python loop
over every pixel calling ``SetPixel(x, y, r, g, b)`` on a recording canvas.
The baseline keeps the numpy drawing, so the speed-up it shows is a lower
bound: the old scripts also computed every pixel's colour in Python.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from animations import REGISTRY, Animation
from appliance.display.virtual import VirtualDisplay
from appliance.render.frame import FrameGuard
from benchmarks.common import Check, check, median, pct, rnd

SIZES = ((64, 32), (64, 64), (128, 64))
#: Chained and parallel panels (4x 64x32 in a row, 4x 64x32 as 2x2 or 2 chains of
#: 64x64, 8x 64x32): in the full run; the quick run keeps 128x128 only.
BIG_SIZES = ((256, 64), (128, 128), (256, 128))
FRAME_DT_S = 1 / 30


class RecordingCanvas:
    """What hzeller's ``FrameCanvas`` does for ``SetPixel``: store one RGB triple per pixel."""

    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self.buffer = bytearray(width * height * 3)

    def SetPixel(self, x: int, y: int, r: int, g: int, b: int) -> None:
        """Set one pixel (the canvas clips nothing: callers pass 0-255)."""
        i = (y * self.width + x) * 3
        buf = self.buffer
        buf[i] = r
        buf[i + 1] = g
        buf[i + 2] = b


def per_pixel_show(pixels: np.ndarray, canvas: RecordingCanvas) -> None:
    """Push a frame pixel by pixel with clipping in Python, as the old scripts did."""
    rows = pixels.tolist()
    set_pixel = canvas.SetPixel
    for y, row in enumerate(rows):
        for x, (r, g, b) in enumerate(row):
            set_pixel(x, y,
                      0 if r != r or r < 0 else 255 if r > 255 else int(r),
                      0 if g != g or g < 0 else 255 if g > 255 else int(g),
                      0 if b != b or b < 0 else 255 if b > 255 else int(b))


def _time_subject(anim: Animation, guard: FrameGuard, display: VirtualDisplay, t0: float,
                  n: int, out: list[float], cpu_out: list[float] | None = None) -> float:
    """Time ``n`` full frames (draw + guard + show); append wall (and CPU) ms; return next t."""
    clock = time.perf_counter
    cpu = time.thread_time
    t = t0
    for _ in range(n):
        c0 = cpu()
        start = clock()
        display.show(guard(anim.draw(t)))
        end = clock()
        c1 = cpu()
        out.append((end - start) * 1000.0)
        if cpu_out is not None:
            cpu_out.append((c1 - c0) * 1000.0)
        t += FRAME_DT_S
    return t


def _time_overhead(pixels: np.ndarray, guard: FrameGuard, display: VirtualDisplay, n: int,
                   out: list[float]) -> None:
    """Time the choke point + show alone on an already drawn frame."""
    clock = time.perf_counter
    for _ in range(n):
        start = clock()
        display.show(guard(pixels))
        out.append((clock() - start) * 1000.0)


def _time_fromarray(frame: np.ndarray, n: int, out: list[float]) -> None:
    """Time ``Image.fromarray``: what the rgbmatrix driver adds before ``SetImage``."""
    from PIL import Image

    clock = time.perf_counter
    for _ in range(n):
        start = clock()
        Image.fromarray(frame, "RGB")
        out.append((clock() - start) * 1000.0)


def _time_baseline(anim: Animation, canvas: RecordingCanvas, t0: float, n: int,
                   out: list[float]) -> float:
    clock = time.perf_counter
    t = t0
    for _ in range(n):
        start = clock()
        per_pixel_show(anim.draw(t), canvas)
        out.append((clock() - start) * 1000.0)
        t += FRAME_DT_S
    return t


def _allocations(anim: Animation, guard: FrameGuard, display: VirtualDisplay, t0: float,
                 frames: int) -> dict[str, float]:
    """Measure tracemalloc's view of one frame: transient peak, blocks and retained bytes."""
    tracemalloc.start()
    try:
        t = t0
        # One frame first so lazily created buffers do not count.
        display.show(guard(anim.draw(t)))
        peaks = np.zeros(frames, np.int64)  # preallocated: the measurement allocates nothing
        snap0 = tracemalloc.take_snapshot()
        cur0, _ = tracemalloc.get_traced_memory()
        for i in range(frames):
            t += FRAME_DT_S
            before, _ = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            display.show(guard(anim.draw(t)))
            _, peak = tracemalloc.get_traced_memory()
            peaks[i] = peak - before
        cur1, _ = tracemalloc.get_traced_memory()
        snap1 = tracemalloc.take_snapshot()
        diff = snap1.compare_to(snap0, "filename")
        blocks = sum(max(0, s.count_diff) for s in diff)
    finally:
        tracemalloc.stop()
    return {
        "transient_kib_per_frame": rnd(float(np.median(peaks)) / 1024, 2) or 0.0,
        "retained_bytes_per_frame": rnd((cur1 - cur0) / frames, 1) or 0.0,
        "live_blocks_gained": float(blocks),
    }


@dataclass(frozen=True)
class _Plan:
    """How much to time per animation and size."""

    repeats: int
    n_subject: int
    n_base: int
    alloc_frames: int


@dataclass
class _Samples:
    """Everything timed for one animation at one size (milliseconds)."""

    dtype: str = ""
    subject: list[float] = field(default_factory=list)
    subject_cpu: list[float] = field(default_factory=list)
    p99s: list[float] = field(default_factory=list)
    cpu_p99s: list[float] = field(default_factory=list)
    overhead: list[float] = field(default_factory=list)
    fromarray: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    alloc: dict[str, float] = field(default_factory=dict)


def _sample(name: str, w: int, h: int, plan: _Plan) -> _Samples:
    """Time one animation at one size: subject and baseline interleaved, then allocations."""
    anim = REGISTRY.create(name, w, h, {})
    base_anim = REGISTRY.create(name, w, h, {})
    guard = FrameGuard(w, h)
    display = VirtualDisplay(w, h)
    display.start()
    canvas = RecordingCanvas(w, h)
    got = _Samples()
    t = tb = 0.0
    # Warm-up: caches, lazily built grids.
    t = _time_subject(anim, guard, display, t, 10, [])
    tb = _time_baseline(base_anim, canvas, tb, 1, [])
    pixels = anim.draw(t).copy()
    got.dtype = str(pixels.dtype)
    for _ in range(plan.repeats):
        s: list[float] = []
        sc: list[float] = []
        b: list[float] = []
        t = _time_subject(anim, guard, display, t, plan.n_subject, s, sc)
        tb = _time_baseline(base_anim, canvas, tb, plan.n_base, b)
        _time_overhead(pixels, guard, display, plan.n_subject, got.overhead)
        _time_fromarray(guard(pixels), plan.n_subject // 4, got.fromarray)
        got.subject += s
        got.subject_cpu += sc
        got.p99s.append(pct(s, 99))
        got.cpu_p99s.append(pct(sc, 99))
        got.baseline += b
        got.ratios.append(median(b) / max(median(s), 1e-9))
    gc.collect()
    got.alloc = _allocations(anim, guard, display, t, plan.alloc_frames)
    return got


def _row(name: str, w: int, h: int, got: _Samples) -> dict[str, Any]:
    """One animation and size as a result row."""
    return {
        "animation": name,
        "size": f"{w}x{h}",
        "dtype": got.dtype,
        "frame_ms_p50": rnd(median(got.subject), 4),
        "frame_ms_p99": rnd(median(got.p99s), 4),
        "frame_ms_p99_pooled": rnd(pct(got.subject, 99), 4),
        "frame_ms_max": rnd(max(got.subject), 4),
        "frame_cpu_ms_p50": rnd(median(got.subject_cpu), 4),
        "frame_cpu_ms_p99": rnd(median(got.cpu_p99s), 4),
        "overhead_ms_p50": rnd(median(got.overhead), 4),
        "overhead_ms_p99": rnd(pct(got.overhead, 99), 4),
        "pil_fromarray_ms_p50": rnd(median(got.fromarray), 4),
        "baseline_ms_p50": rnd(median(got.baseline), 3),
        "baseline_ms_p99": rnd(pct(got.baseline, 99), 3),
        "speedup": rnd(median(got.ratios), 1),
        "speedup_min": rnd(min(got.ratios), 1),
        "frames_timed": len(got.subject),
        "baseline_frames_timed": len(got.baseline),
        **got.alloc,
    }


def _checks(name: str, w: int, h: int, got: _Samples) -> list[Check]:
    """The targets for one animation and size."""
    # The target is the frame's cost: CPU time of the drawing thread, which a busy
    # machine does not inflate; wall-clock p99 is reported beside it.
    checks: list[Check] = []
    p99 = median(got.cpu_p99s)
    label = f"{name} {w}x{h}"
    wall = f"wall p99 {rnd(median(got.p99s), 3)} ms"
    if (w, h) == (64, 64):
        checks.append(check("frames", f"{label} p99 (CPU)", p99, "ms", "<", 0.7, note=wall))
    elif (w, h) in ((128, 64), (128, 128)):
        checks.append(check("frames", f"{label} p99 (CPU)", p99, "ms", "<", 1.5, note=wall))
    if (w, h) != (64, 32):
        checks.append(check("frames", f"{label} vs per-pixel", median(got.ratios), "x",
                            ">=", 10))
    return checks


def run(quick: bool) -> tuple[dict[str, Any], list[Check]]:
    """Measure every registered animation at every size."""
    plan = _Plan(repeats=3 if quick else 7, n_subject=60 if quick else 300,
                 n_base=3 if quick else 12, alloc_frames=20 if quick else 100)
    results: list[dict[str, Any]] = []
    checks: list[Check] = []
    sizes = (*SIZES, (128, 128)) if quick else (*SIZES, *BIG_SIZES)
    for name in REGISTRY.names():
        for w, h in sizes:
            got = _sample(name, w, h, plan)
            results.append(_row(name, w, h, got))
            checks += _checks(name, w, h, got)
    summary = {
        "sizes": [f"{w}x{h}" for w, h in sizes],
        "animations": REGISTRY.names(),
        "repeats": plan.repeats,
        "frames_per_repeat": plan.n_subject,
        "baseline_frames_per_repeat": plan.n_base,
        "baseline": "per-pixel Python loop calling SetPixel on a recording canvas "
                    "(numpy drawing kept, so the speed-up is a lower bound)",
        "results": results,
    }
    return summary, checks
