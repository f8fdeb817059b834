"""Section 7, notifications: the overlay's frame cost, command -> first frame, RSS of a full queue.

The frame cost is the engine's own per-frame work (``Engine.tick``: commands,
the queue's step, the animation, the compositor's layers through the choke point,
the virtual display's ``show``), in process on a fake clock advanced a frame per
tick, for the heaviest effect animation (measured here first, at 64x64) alone and
with a held scrolling banner (text much wider than the panel) over it. The two
engines are timed in alternating blocks in the same run, so the banner's added
cost (p50 with minus p50 alone, per block, then the median over blocks) does not
depend on how fast or busy the machine is. Targets are on the drawing thread's
CPU time (as the frames section's); wall clock is reported beside it.

The command -> first frame and RSS figures need a real broker and engine:
``benchmarks.notify_live``. Knows nothing of MQTT itself.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from animations import REGISTRY
from appliance.display.virtual import VirtualDisplay
from appliance.ops.broker import LocalBroker
from appliance.render.clock import FakeClock
from appliance.render.engine import Engine
from appliance.render.frame import FrameGuard
from appliance.settings import validate
from appliance.wire.commands import parse_command
from benchmarks.common import Check, check, median, pct, rnd

SIZES = ((64, 32), (64, 64), (128, 64))
FRAME_DT_S = 1 / 30
#: Wider than every panel size here: the banner scrolls.
BANNER_TEXT = "Washing machine done - 21 °C outside, door open → unload the drum ✓ ♥ €5"
BANNER = {"text": BANNER_TEXT, "id": "bench", "hold": True, "color": "#ffcc00"}


def heaviest(size: tuple[int, int], frames: int) -> tuple[str, dict[str, float]]:
    """The effect animation whose draw + choke point costs most CPU per frame at ``size``."""
    w, h = size
    costs: dict[str, float] = {}
    for name in REGISTRY.names():
        if REGISTRY.get(name).category != "effect":
            continue
        anim = REGISTRY.create(name, w, h, {})
        guard = FrameGuard(w, h)
        t = 0.0
        samples: list[float] = []
        for i in range(frames + 5):  # the first five warm caches up
            c0 = time.thread_time()
            guard(anim.draw(t))
            if i >= 5:
                samples.append((time.thread_time() - c0) * 1000.0)
            t += FRAME_DT_S
        costs[name] = median(samples)
    name = max(costs, key=lambda n: costs[n])
    return name, {n: rnd(c, 4) or 0.0 for n, c in sorted(costs.items(), key=lambda kv: -kv[1])}


def _engine(animation: str, w: int, h: int) -> tuple[Engine, FakeClock]:
    settings = validate({"device_id": "bench", "animation": {"default": animation},
                         "display": {"driver": "virtual", "rows": h, "cols": w, "fps": 30}})
    clock = FakeClock()
    eng = Engine(settings, VirtualDisplay(w, h), REGISTRY, clock=clock)
    eng.start()
    return eng, clock


@dataclass
class _Timed:
    """One engine's frames: wall and CPU ms, and each block's p50/p99."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    block_p50: list[float] = field(default_factory=list)
    block_cpu_p50: list[float] = field(default_factory=list)
    block_cpu_p99: list[float] = field(default_factory=list)


def _block(eng: Engine, clock: FakeClock, n: int, into: _Timed) -> None:
    """Time ``n`` engine ticks, a frame apart on the fake clock."""
    perf, cpu = time.perf_counter, time.thread_time
    wall: list[float] = []
    cpus: list[float] = []
    for _ in range(n):
        clock.advance(FRAME_DT_S)
        now = clock.monotonic()
        c0 = cpu()
        s0 = perf()
        eng.tick(now)
        s1 = perf()
        c1 = cpu()
        wall.append((s1 - s0) * 1000.0)
        cpus.append((c1 - c0) * 1000.0)
    into.wall += wall
    into.cpu += cpus
    into.block_p50.append(median(wall))
    into.block_cpu_p50.append(median(cpus))
    into.block_cpu_p99.append(pct(cpus, 99))


def first_frame_ms(eng: Engine, clock: FakeClock, times: int) -> float:
    """CPU ms of the tick that first draws a new banner (its text bitmap is made then)."""
    cpus: list[float] = []
    for i in range(times):
        body = {**BANNER, "text": f"{BANNER_TEXT} {i}"}  # the same id: replaced in place
        eng.submit(parse_command("notify", json.dumps(body).encode()))
        clock.advance(FRAME_DT_S)
        c0 = time.thread_time()
        eng.tick(clock.monotonic())
        cpus.append((time.thread_time() - c0) * 1000.0)
    return median(cpus)


def overlay_cost(animation: str, w: int, h: int, repeats: int, n: int) -> dict[str, Any]:
    """Time the animation alone and under a scrolling banner, interleaved; one result row."""
    alone, alone_clock = _engine(animation, w, h)
    over, over_clock = _engine(animation, w, h)
    replies: list[Any] = []
    over.submit(parse_command("notify", json.dumps(BANNER).encode()), replies.append)
    for eng, clock in ((alone, alone_clock), (over, over_clock)):
        _block(eng, clock, 10, _Timed())  # warm-up (and the notification starts showing)
    if over.notices.showing() != BANNER["id"] or not replies or not replies[0].ok:
        raise RuntimeError(f"the banner did not show: {replies}")
    banner = over.notices.layer._banner
    scrolls = bool(banner and banner[1].scrolls)
    a, b = _Timed(), _Timed()
    for i in range(repeats):
        order = ((alone, alone_clock, a), (over, over_clock, b))
        for eng, clock, into in order if i % 2 == 0 else order[::-1]:
            _block(eng, clock, n, into)
    added = [y - x for x, y in zip(a.block_cpu_p50, b.block_cpu_p50, strict=True)]
    added_wall = [y - x for x, y in zip(a.block_p50, b.block_p50, strict=True)]
    first = first_frame_ms(over, over_clock, 7)
    alone.shutdown()
    over.shutdown()
    return {
        "animation": animation, "size": f"{w}x{h}", "banner_scrolls": scrolls,
        "alone_cpu_ms_p50": rnd(median(a.cpu), 4),
        "alone_cpu_ms_p99": rnd(median(a.block_cpu_p99), 4),
        "banner_cpu_ms_p50": rnd(median(b.cpu), 4),
        "banner_cpu_ms_p99": rnd(median(b.block_cpu_p99), 4),
        "alone_wall_ms_p50": rnd(median(a.wall), 4), "alone_wall_ms_p99": rnd(pct(a.wall, 99), 4),
        "banner_wall_ms_p50": rnd(median(b.wall), 4),
        "banner_wall_ms_p99": rnd(pct(b.wall, 99), 4),
        "added_cpu_ms_p50": rnd(median(added), 4),
        "added_cpu_ms_p50_worst_block": rnd(max(added), 4),
        "added_wall_ms_p50": rnd(median(added_wall), 4),
        "ratio_p50": rnd(median([y / max(x, 1e-9) for x, y in zip(
            a.block_cpu_p50, b.block_cpu_p50, strict=True)]), 3),
        "frames_timed_each": len(a.cpu),
        "banner_first_frame_cpu_ms_p50": rnd(first, 4),
    }


def frame_checks(row: dict[str, Any]) -> list[Check]:
    """The targets of one size: the overlay's added cost at 64x64, the p99 frame budgets."""
    size = row["size"]
    note = (f"{row['animation']}: alone {row['alone_cpu_ms_p50']} ms p50; wall added "
            f"{row['added_wall_ms_p50']} ms")
    checks: list[Check] = []
    if size == "64x64":
        checks.append(check("notify", f"banner over {size}: added p50 (CPU)",
                            row["added_cpu_ms_p50"], "ms", "<", 0.1, note=note))
    budgets = {"64x64": 0.7, "128x64": 1.5}  # the frames section's per-frame targets
    if size in budgets:
        checks.append(check("notify", f"banner over {size}: frame p99 (CPU)",
                            row["banner_cpu_ms_p99"], "ms", "<", budgets[size],
                            note=f"whole engine tick; alone {row['alone_cpu_ms_p99']} ms"))
    return checks


TABLE_HEADERS = ["animation", "size", "alone p50", "alone p99", "banner p50", "banner p99",
                 "added p50", "ratio", "wall added p50", "banner's first frame"]


def table_rows(sec: dict[str, Any]) -> list[list[Any]]:
    """The overlay table's rows (CPU ms per engine tick) for ``lightbox bench``'s report."""
    return [[r["animation"], r["size"], r["alone_cpu_ms_p50"], r["alone_cpu_ms_p99"],
             r["banner_cpu_ms_p50"], r["banner_cpu_ms_p99"], r["added_cpu_ms_p50"],
             r["ratio_p50"], r["added_wall_ms_p50"], r["banner_first_frame_cpu_ms_p50"]]
            for r in sec["frames"]]


def key_figures(sec: dict[str, Any]) -> list[tuple[str, Any]]:
    """The live figures for the report's key-figures table."""
    live, rss = sec["live"], sec["rss"]

    def p50_p99(d: dict[str, Any]) -> str:
        return f"{d['p50_ms']} / {d['p99_ms']}"

    return [("heaviest animation (64x64)", sec["animation"]),
            ("notify->document p50 / p99 ms", p50_p99(live["notify_to_document"])),
            ("notify->first frame p50 / p99 ms", p50_p99(live["notify_to_first_frame"])),
            ("same, + worst frame p99 p50 / p99 ms",
             p50_p99(live["notify_to_first_frame_worst_case"])),
            ("dismiss->document p50 / p99 ms", p50_p99(live["dismiss_to_document"])),
            ("engine frame p50 / p99 ms", f"{live['engine_frame_ms_p50']} / "
                                          f"{live['engine_frame_ms_p99']}"),
            ("RSS idle -> full queue -> all dismissed MB",
             f"{rss['idle_mb']} -> {rss['full_queue_mb']} -> {rss['after_dismiss_all_mb']}")]


def run(broker: LocalBroker, workdir: Path, quick: bool) -> tuple[dict[str, Any], list[Check]]:
    """The overlay's frame cost at every size, then the live figures."""
    from benchmarks import notify_live

    repeats, n = (4, 60) if quick else (10, 300)
    animation, ranking = heaviest((64, 64), 60 if quick else 200)
    rows = [overlay_cost(animation, w, h, repeats, n) for w, h in SIZES]
    checks = [c for r in rows for c in frame_checks(r)]
    out: dict[str, Any] = {
        "animation": animation, "heaviest_ranking_cpu_ms_64x64": ranking,
        "banner": BANNER, "repeats": repeats, "frames_per_block": n,
        "measured": "Engine.tick on a fake clock, VirtualDisplay; CPU (thread_time) and wall",
        "frames": rows,
    }
    live, live_checks = notify_live.run(broker, workdir, quick, animation)
    out.update(live)
    return out, checks + live_checks
