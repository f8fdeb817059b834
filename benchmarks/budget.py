"""`lightbox bench budget`: the smallest share of one core at which an animation holds 30 fps.

Per case, one ``lightbox engine`` (virtual display, metrics every second) starts
inside a CPU-limited cgroup (``benchmarks.cgroup``) from its very first instruction,
so its cold start runs under the limit too (5 %; bytecode cached first, as in
``benchmarks.coldstart``): time and CPU seconds from process start to the first frame
(the ``engine_ready`` log line), and time to ``online``.
Then the share is searched on the running engine, from 5 % down while it holds or up
until it does; at each share, after a 3 s settle, the frame rate over the window
(20 s; 8 s with ``--quick``) from the engine's own ``frames_total`` and ``uptime_s``,
the worst 2 s window, the frame p99 and the frames dropped. The case's answer is
the lowest share at which the window held 29.5 fps.
A share is a percent of ONE core of this machine: a Pi 4 core is roughly 5-10x
slower (docs/performance.md reads the table for a Pi). Not part of the default run.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from appliance.ops.broker import LocalBroker
from appliance.wire import topics
from benchmarks.cgroup import CpuCgroup, period_us
from benchmarks.coldstart import bytecode_env, warm_up
from benchmarks.common import Check, check, rnd
from benchmarks.harness import BASE, Client, LightboxChild, engine_settings, first_frame

SHARES = (2, 3, 4, 5, 7, 10, 15, 20, 30)
START_SHARE = 5
HOLD_FPS = 29.5
WARMUP_S = 3.0
#: The heavy built-ins at the sizes a single panel and two chained panels give.
QUICK_CASES = tuple((a, w, h) for a in ("plasma", "fire", "fireworks", "nebula", "galaxy")
                    for w, h in ((64, 32), (128, 64)))
SIZES = ((64, 32), (64, 64), (128, 64))


def _windows(history: list[tuple[float, Any]]) -> tuple[float, float, float, int]:
    """(mean fps, worst 2 s window fps, worst frame p99 ms, frames dropped) from metrics.

    Windows are pairs of metrics documents two apart (about 2 s): ``uptime_s`` has
    0.1 s steps, which would put +-10 % of noise on a 1 s window.
    """
    docs = [m for _, m in history if isinstance(m, dict)]
    if len(docs) < 3:
        raise RuntimeError("fewer than three metrics documents in the window")
    rates = []
    for a, b in zip(docs, docs[2:], strict=False):
        span = b["uptime_s"] - a["uptime_s"]
        if span > 0:
            rates.append((b["frames_total"] - a["frames_total"]) / span)
    first, last = docs[0], docs[-1]
    mean = (last["frames_total"] - first["frames_total"]) / max(
        1e-9, last["uptime_s"] - first["uptime_s"])
    return (mean, min(rates), max(d["frame_ms_p99"] for d in docs),
            last["frames_dropped"] - first["frames_dropped"])


class Trial:
    """One engine for one case in the cgroup: its cold start, then windows at each share.

    The share is changed on the running engine (the cgroup's quota), so a search
    costs one cold start per case, not one per share.
    """

    def __init__(self, broker: LocalBroker, workdir: Path, cg: CpuCgroup,
                 case: tuple[str, int, int], window_s: float, banner: bool,
                 env: dict[str, str] | None = None) -> None:
        name, w, h = case
        self.case, self.cg, self.window_s, self.banner = case, cg, window_s, banner
        settings = engine_settings(broker, w, h, 30,
                                   animation={"default": name, "boot": "default"})
        self.child = LightboxChild(
            "engine", workdir / f"{name}-{w}x{h}", settings,
            launcher=[sys.executable, "-m", "benchmarks.cgexec", str(cg.procs)], env=env or {})
        self.client = Client(broker, name="bench-budget")
        self.metrics = topics.state_topic(BASE, "metrics")
        self.cold: dict[str, Any] = {}

    def start(self, share: float) -> None:
        """Start the engine under ``share`` and time its cold start."""
        status = topics.state_topic(BASE, "status")
        self.cg.set_share(share)
        self.client.keep_history.add(self.metrics)
        self.client.connect()
        self.client.subscribe(status, self.metrics)
        t0 = time.perf_counter()
        self.child.start()
        first_s, first_cpu_s = first_frame(self.child, t0)
        self.client.wait(status, lambda v: v == "online", 120)
        self.cold = {"cold_start_share_pct": share, "first_frame_s": rnd(first_s, 2),
                     "first_frame_cpu_s": rnd(first_cpu_s, 3),
                     "online_s": rnd(self.client.latest_at[status] - t0, 2)}
        if self.banner:
            self.client.publish(topics.command(BASE, "notify"), json.dumps(
                {"text": "A banner over the animation, scrolling", "hold": True}))

    def measure(self, share: float) -> dict[str, Any]:
        """Hold the engine at ``share``: settle, then the frame rate over the window."""
        self.cg.set_share(share)
        time.sleep(WARMUP_S)
        periods0 = self.cg.throttled()
        since = time.perf_counter()
        time.sleep(self.window_s)
        with self.client._cond:
            history = [(t, m) for t, m in self.client.history.get(self.metrics, [])
                       if t >= since]
        mean, worst, p99, dropped = _windows(history)
        periods = [b - a for a, b in zip(periods0, self.cg.throttled(), strict=True)]
        name, w, h = self.case
        return {"animation": name, "size": f"{w}x{h}", "share_pct": share,
                "period_ms": period_us(share) / 1000, "fps": rnd(mean, 2),
                "fps_worst_window": rnd(worst, 2), "frame_ms_p99_max": rnd(p99, 2),
                "frames_dropped": dropped, "holds": mean >= HOLD_FPS,
                "throttled_fraction": rnd(periods[1] / max(1, periods[0]), 3)}

    def stop(self) -> None:
        """Stop the engine and the client."""
        self.child.stop()
        self.client.close()


def search(run_trial: Any, shares: tuple[float, ...] = SHARES,
           start: float = START_SHARE) -> tuple[float | None, list[dict[str, Any]]]:
    """Return the lowest share in ``shares`` that holds (None: not even the largest) and
    every trial run; ``run_trial(share)`` returns a trial's result."""
    i = shares.index(start)
    trials: list[dict[str, Any]] = []
    first = run_trial(shares[i])
    trials.append(first)
    step = -1 if first["holds"] else 1
    best = shares[i] if first["holds"] else None
    i += step
    while 0 <= i < len(shares):
        r = run_trial(shares[i])
        trials.append(r)
        if r["holds"]:
            best = shares[i]
            if step > 0:
                break  # going up: the first share that holds is the answer
        elif step < 0:
            break  # going down: the last one that held is the answer
        i += step
    return best, trials


def run(broker: LocalBroker, workdir: Path, quick: bool,
        cases: tuple[tuple[str, int, int], ...] | None = None, banner: bool = False
        ) -> tuple[dict[str, Any], list[Check]]:
    """Find each case's lowest share; ``cases`` default: QUICK_CASES (quick) or every
    built-in animation at every size."""
    problem = CpuCgroup.problem()
    if problem is not None:
        return {"status": "skipped", "reason": problem}, []
    if cases is None:
        from animations import REGISTRY

        cases = QUICK_CASES if quick else tuple(
            (a, w, h) for a in REGISTRY.names() for w, h in SIZES)
    window_s = 8.0 if quick else 20.0
    # The bytecode cached first (outside the cgroup), as on an installed box: a source
    # tree run with PYTHONDONTWRITEBYTECODE would otherwise compile at every cold start.
    env = bytecode_env(workdir)
    warm_up(broker, workdir, env)
    cg = CpuCgroup()
    cg.create()
    rows: list[dict[str, Any]] = []
    trials: list[dict[str, Any]] = []
    try:
        for case in cases:
            t = Trial(broker, workdir, cg, case, window_s, banner, env)
            try:
                t.start(START_SHARE)
                best, tried = search(t.measure)
            finally:
                t.stop()
            trials += [{**r, **t.cold} for r in tried]
            at = next((r for r in tried if r["share_pct"] == best), tried[-1])
            rows.append({**at, **t.cold, "lowest_share_pct": best})
    finally:
        cg.remove()
    worst = max((r["lowest_share_pct"] or 100 for r in rows), default=None)
    cold = max((t["first_frame_cpu_s"] for t in trials), default=None)
    checks = [
        check("budget", "worst case: lowest share holding 30 fps", worst, "% of a core",
              "<=", 3, note="every case" + (" with a banner" if banner else "")),
        check("budget", "cold start: CPU s to the first frame (max)", cold, "s", "<=", 0.4,
              note="about 3 s on a Pi 4"),
    ]
    return {"window_s": window_s, "hold_fps": HOLD_FPS, "banner": banner,
            "cgroup": "v2 cpu.max" if cg.v2 else "v1 cpu.cfs_quota_us",
            "results": rows, "trials": trials}, checks
