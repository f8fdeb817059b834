"""Soak run: a real engine against a real mosquitto for hours, commands arriving throughout.

Not part of the test suite (the compressed version is tests/faults/test_soak.py).
Usage, from the repository root:

    .venv/bin/python -m tests.soak.soak --hours 24 --report soak-report.json
    .venv/bin/python -m tests.soak.soak --minutes 30 --tracemalloc
    .venv/bin/python -m tests.soak.soak --frames 200000 --uncapped

Writes a JSON report (and a Markdown summary next to it): frames, drops, fps,
RSS over time, growth after warm-up, commands sent and answered, every error
line of the engine's log, tracemalloc's top growth when asked, the stop.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from appliance.ops.broker import LocalBroker
from tests.support import LightboxProcess, MQTTProbe, engine_settings, wait_until

DEV = "soak"
BUILTINS = ("plasma", "breathe", "solid", "blank")
#: The presets and the playlist a soak with ``looks`` saves at its start and keeps playing.
PRESETS = {"soak-fire": {"animation": "fire", "brightness": 70},
           "soak-plasma": {"animation": "plasma", "params": {"speed": 2}, "brightness": 50}}
PLAYLIST = {"save": "soak", "repeat": True, "transition_s": 1, "items": [
    {"preset": "soak-fire", "duration_s": 3}, {"animation": "nebula", "duration_s": 2},
    {"preset": "soak-plasma", "duration_s": 4}, {"animation": "galaxy", "duration_s": 2}]}
#: How long a bounded run waits for the engine to count the last commands sent.
COUNT_GRACE_S = 30.0


class Commander(threading.Thread):
    """Sends a mix of valid and invalid commands at a steady rate.

    With ``looks``, the mix also has notifications (banners and full-screen, replaced,
    dismissed, pre-empted, some dropped when the queue is full), presets and a playlist
    that keeps playing: hand-made look changes, which stop it, become rare.
    """

    def __init__(self, probe: MQTTProbe, rate_per_s: float, seed: int = 1,
                 total: int | None = None, looks: bool = False) -> None:
        super().__init__(name="commander", daemon=True)
        self.probe = probe
        self.interval_s = 1.0 / rate_per_s
        #: Stop after this many commands (None: until told), so counts do not depend on speed.
        self.total = total
        self.done = threading.Event()
        self.done_mono = 0.0
        self.rng = random.Random(seed)
        self.stop = threading.Event()
        self.sent = 0
        self.invalid_sent = 0
        self.looks = looks

    def run(self) -> None:
        if self.looks:
            self._send_setup()
        while not self.stop.wait(self.interval_s):
            if self.total is not None and self.sent >= self.total:
                self.done_mono = time.monotonic()
                self.done.set()
                return
            topic, payload = self._pick_looks() if self.looks else self._pick()
            self._send(topic, payload)

    def _send(self, topic: str, payload: str) -> None:
        try:
            # qos 1: the broker takes every command, so each one sent is counted.
            self.probe.client.publish(topic, payload, qos=1)
            self.sent += 1
        except Exception:  # the broker may be restarting; keep going
            pass

    def _send_setup(self) -> None:
        base = f"lightbox/{DEV}"
        for name, look in PRESETS.items():
            self._send(f"{base}/cmd/preset", json.dumps({"save": name, **look}))
        self._send(f"{base}/cmd/playlist", json.dumps(PLAYLIST))
        self._send(f"{base}/cmd/playlist", json.dumps({"play": "soak"}))

    def _pick_looks(self) -> tuple[str, str]:
        """One command of the ``looks`` mix: the playlist keeps running most of the time.

        About every 25 s a play restarts it, about every minute a hand-made animation stops it.
        """
        base = f"lightbox/{DEV}"
        r = self.rng.random()
        if r < 0.45:
            return f"{base}/cmd/brightness", str(self.rng.randint(1, 100))
        if r < 0.74:
            return f"{base}/cmd/params", json.dumps({"speed": round(self.rng.uniform(0.1, 5), 2)})
        if r < 0.80:
            return f"{base}/cmd/notify", json.dumps(self._notification())
        if r < 0.82:
            return f"{base}/cmd/notify/dismiss", self.rng.choice(["", "all", "n1"])
        if r < 0.825:
            return f"{base}/cmd/playlist", self.rng.choice(["next", "previous"])
        if r < 0.83:
            name = self.rng.choice(list(PRESETS))
            return f"{base}/cmd/preset", json.dumps({"save": name, **PRESETS[name]})
        if r < 0.832:
            return f"{base}/cmd/playlist", json.dumps({"play": "soak"})
        if r < 0.833:
            return f"{base}/cmd/animation", self.rng.choice(BUILTINS)
        self.invalid_sent += 1
        return self.rng.choice([
            (f"{base}/cmd/notify", json.dumps({"text": ""})),
            (f"{base}/cmd/notify", json.dumps({"text": "x", "priority": 101})),
            (f"{base}/cmd/playlist", json.dumps({"play": "no such"})),
            (f"{base}/cmd/preset", json.dumps({"apply": "../etc"})),
            (f"{base}/cmd/brightness", "bright")])

    def _notification(self) -> dict[str, Any]:
        n: dict[str, Any] = {"text": self.rng.choice(["Door bell", "Washer done ✓",
                                                     "Build #1234 passed on main, all green"]),
                             "duration_s": self.rng.randint(1, 4),
                             "priority": self.rng.randint(0, 100),
                             "position": self.rng.choice(["banner", "banner", "fullscreen"])}
        if self.rng.random() < 0.3:
            n["id"] = self.rng.choice(["n1", "n2"])
        if self.rng.random() < 0.1:
            n["hold"] = True
        return n

    def _pick(self) -> tuple[str, str]:
        """One command of the plain mix (brightness, params, animation, power, set, invalid)."""
        base = f"lightbox/{DEV}"
        r = self.rng.random()
        if r < 0.3:
            topic, payload = f"{base}/cmd/brightness", str(self.rng.randint(1, 100))
        elif r < 0.5:
            topic, payload = f"{base}/cmd/params", json.dumps(
                {"speed": round(self.rng.uniform(0.1, 5), 2)})
        elif r < 0.6:
            topic, payload = f"{base}/cmd/animation", self.rng.choice(BUILTINS)
        elif r < 0.7:
            topic, payload = f"{base}/cmd/power", self.rng.choice(["ON", "TOGGLE"])
        elif r < 0.8:
            topic, payload = f"{base}/set", json.dumps(
                {"state": "ON", "brightness": self.rng.randint(1, 100), "effect": "plasma"})
        else:
            self.invalid_sent += 1
            topic, payload = self.rng.choice([
                (f"{base}/cmd/brightness", "bright"), (f"{base}/cmd/params", "{\"spede\": 1}"),
                (f"{base}/cmd/animation", "nope"), (f"{base}/set", "{\"state\": 5}")])
        return topic, payload


def run_soak(workdir: Path, *, seconds: float | None = None, frames: int | None = None,
             fps: int = 30, uncapped: bool = False, commands_per_s: float = 20.0,
             sample_s: float = 10.0, warmup_s: float = 60.0, tracemalloc: bool = False,
             progress: bool = False, commands: int | None = None,
             looks: bool = False) -> dict[str, Any]:
    """Run one soak and return its report (seconds or frames bound the run).

    With ``commands``, exactly that many are sent (at ``commands_per_s``) and the run
    goes on until the engine has counted every one of them, however fast it renders.
    """
    assert seconds or frames
    broker = LocalBroker(workdir / "broker")
    broker.start()
    env = {}
    if tracemalloc:
        env = {"LIGHTBOX_TRACEMALLOC": "1",
               "LIGHTBOX_TRACEMALLOC_WARMUP_S": str(warmup_s),
               "LIGHTBOX_TRACEMALLOC_INTERVAL_S": str(max(sample_s * 6, 60))}
    settings = engine_settings(broker, DEV, display={"driver": "virtual", "rows": 32, "cols": 64,
                                                     "fps": fps},
                               health={"interval_s": 5, "metrics_interval_s": 1})
    eng = LightboxProcess("engine", workdir / "engine", settings,
                          ["--uncapped"] if uncapped else [], env)
    eng.start()
    watcher = MQTTProbe(broker, "homeassistant").connect()
    watcher.subscribe(f"lightbox/{DEV}/metrics", f"lightbox/{DEV}/status",
                      f"lightbox/{DEV}/state", f"lightbox/{DEV}/notifications", wait_s=0)
    watcher.wait_for(f"lightbox/{DEV}/status", lambda v: v == "online", timeout_s=30)
    assert eng.process is not None
    proc = psutil.Process(eng.process.pid)
    commander = Commander(MQTTProbe(broker, "homeassistant").connect(), commands_per_s,
                          total=commands, looks=looks)
    commander.start()
    t0 = time.monotonic()
    samples: list[dict[str, Any]] = []
    try:
        _sample_until(samples, watcher, proc, eng, commander, t0, sample_s=sample_s,
                      seconds=seconds, frames=frames, commands=commands, progress=progress)
    finally:
        commander.stop.set()
        commander.join(5)
        final = watcher.last(f"lightbox/{DEV}/metrics") or {}
        t_stop = time.monotonic()
        crashed = not eng.alive()
        if not crashed:
            eng.signal(signal.SIGTERM)
        code = eng.process.wait(20) if eng.process else None
        stop_s = time.monotonic() - t_stop
        watcher.close()
        commander.probe.close()
        broker.stop()
    duration = time.monotonic() - t0
    after = [s for s in samples if s["t_s"] >= min(warmup_s, duration / 3)]
    rss_after_warmup = after[0]["rss_mb"] if after else None
    errors = [e for e in eng.log_events() if e.get("level") in ("error", "critical")]
    tops = [e for e in eng.log_events() if e.get("event") == "tracemalloc_top"]
    report = {
        "duration_s": round(duration, 1),
        "fps_target": 0 if uncapped else fps,
        "frames_total": final.get("frames_total"),
        "frames_dropped": final.get("frames_dropped"),
        "fps_mean": round((final.get("frames_total") or 0) / max(duration, 1e-9), 1),
        "frame_ms_p99_last": final.get("frame_ms_p99"),
        "frame_gap_ms_max": final.get("frame_gap_ms_max"),
        "frame_gaps_over_100ms_total": final.get("frame_gaps_over_100ms_total"),
        "commands_sent": commander.sent,
        "commands_invalid_sent": commander.invalid_sent,
        "commands_total": final.get("commands_total"),
        "commands_rejected_total": final.get("commands_rejected_total"),
        "commands_dropped_total": final.get("commands_dropped_total"),
        "animation_errors_total": final.get("animation_errors_total"),
        "samples_with_playlist": sum(s["playlist_index"] is not None for s in samples),
        "samples_with_notification": sum(bool(s["notification"]) for s in samples),
        "playlist_indexes_seen": sorted({s["playlist_index"] for s in samples
                                         if s["playlist_index"] is not None}),
        "rss_mb_first": samples[0]["rss_mb"] if samples else None,
        "rss_mb_after_warmup": rss_after_warmup,
        "rss_mb_last": samples[-1]["rss_mb"] if samples else None,
        "rss_mb_max": max((s["rss_mb"] for s in samples), default=None),
        "rss_growth_after_warmup_mb": round(samples[-1]["rss_mb"] - rss_after_warmup, 2)
        if samples and rss_after_warmup is not None else None,
        **rss_slopes(after),
        "errors_in_log": len(errors),
        "error_lines": errors[:50],
        "tracemalloc_top_last": tops[-1] if tops else None,
        # glibc's heap and Python's block count at each report: what RSS alone cannot tell.
        "malloc_series": [{"ts": e.get("timestamp"), **e["malloc"]} for e in tops
                          if isinstance(e.get("malloc"), dict)],
        "crashed": crashed,
        "exit_code": code,
        "stop_s": round(stop_s, 2),
        "samples": samples,
        "log": str(eng.log_path),
    }
    return report


def _sample_until(samples: list[dict[str, Any]], watcher: MQTTProbe, proc: psutil.Process,
                  eng: LightboxProcess, commander: Commander, t0: float, *, sample_s: float,
                  seconds: float | None, frames: int | None, commands: int | None,
                  progress: bool) -> None:
    """Sample RSS and metrics every ``sample_s`` until the run's bound (or the engine dies)."""
    last_frames = 0
    while True:
        time.sleep(sample_s if not frames else min(sample_s, 2.0))
        now = time.monotonic() - t0
        m = watcher.last(f"lightbox/{DEV}/metrics") or {}
        sample = {"t_s": round(now, 1), "rss_mb": round(proc.memory_info().rss / 2**20, 2),
                  "frames_total": m.get("frames_total"), "fps": m.get("fps"),
                  "frames_dropped": m.get("frames_dropped"),
                  "frame_ms_p99": m.get("frame_ms_p99"),
                  "tracemalloc_mb": m.get("tracemalloc_mb"), **_rss_by_kind(proc),
                  **_looks_now(watcher)}
        samples.append(sample)
        last_frames = m.get("frames_total") or last_frames
        if progress:
            print(json.dumps(sample), flush=True)
        if not eng.alive():
            break
        if commands is not None and not _all_counted(commander, m):
            continue
        if seconds and now >= seconds:
            break
        if frames and last_frames >= frames:
            break


def _slope_per_h(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, MB) points, in MB an hour (None under 3 points)."""
    if len(points) < 3:
        return None
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    den = sum((x - mx) ** 2 for x, _ in points)
    return round(sum((x - mx) * (y - my) for x, y in points) / den * 3600, 3) if den else None


def rss_slopes(after_warmup: list[dict[str, Any]]) -> dict[str, float | None]:
    """RSS growth rates after warm-up: of every sample, and of each 10 minutes' lowest.

    The heap trim (every 60 s) makes RSS a saw-tooth of about a megabyte; the lowest
    sample of each 10-minute window is what is left after a trim, and its slope is the
    creep that a trim cannot give back.
    """
    windows: dict[int, list[dict[str, Any]]] = {}
    for s in after_warmup:
        windows.setdefault(int(s["t_s"] // 600), []).append(s)
    lowest = [min(w, key=lambda s: s["rss_mb"]) for w in windows.values() if len(w) >= 3]
    return {"rss_slope_mb_per_h": _slope_per_h([(s["t_s"], s["rss_mb"]) for s in after_warmup]),
            "rss_lowest_per_10min_slope_mb_per_h": _slope_per_h(
                [(s["t_s"], s["rss_mb"]) for s in lowest])}


def _rss_by_kind(proc: psutil.Process) -> dict[str, Any]:
    """Where the resident memory is, from /proc/PID/smaps: which kind of mapping grows.

    ``[heap]`` is glibc's main arena (brk); anonymous maps are Python's object arenas,
    other threads' glibc arenas, large numpy buffers and thread stacks; the rest is files.
    """
    kinds = {"heap": 0, "anon": 0, "files": 0}
    anon_maps = 0
    try:
        for m in proc.memory_maps(grouped=False):
            kind = "heap" if m.path == "[heap]" else "anon" if (
                not m.path or m.path.startswith("[")) else "files"
            kinds[kind] += m.rss
            anon_maps += kind == "anon"
    except psutil.Error:
        return {}
    return {**{f"rss_{k}_mb": round(v / 2**20, 2) for k, v in kinds.items()},
            "anon_maps": anon_maps}


def _looks_now(watcher: MQTTProbe) -> dict[str, Any]:
    """What the box shows at a sample: the playlist's item, a notification."""
    state = watcher.last(f"lightbox/{DEV}/state") or {}
    notes = watcher.last(f"lightbox/{DEV}/notifications") or {}
    playlist = state.get("playlist") if isinstance(state, dict) else None
    active = notes.get("active") if isinstance(notes, dict) else None
    return {"playlist_index": playlist.get("index") if isinstance(playlist, dict) else None,
            "notification": bool(active),
            "notifications_queued": len(notes.get("queue") or []) if isinstance(notes, dict)
            else 0}


def _all_counted(commander: Commander, metrics: dict[str, Any]) -> bool:
    """True once a bounded commander is done and the engine counted every command.

    Gives up COUNT_GRACE_S after the last one was sent: the report then shows the shortfall.
    """
    if not commander.done.is_set():
        return False
    counted = (metrics.get("commands_total") or 0) + (metrics.get("commands_dropped_total") or 0)
    return counted >= commander.sent or time.monotonic() - commander.done_mono > COUNT_GRACE_S


def markdown(report: dict[str, Any]) -> str:
    """A short human summary of a report."""
    keys = ("duration_s", "fps_target", "fps_mean", "frames_total", "frames_dropped",
            "frame_gap_ms_max", "frame_gaps_over_100ms_total", "commands_sent",
            "commands_total", "commands_rejected_total", "commands_dropped_total",
            "animation_errors_total", "samples_with_playlist", "samples_with_notification",
            "playlist_indexes_seen", "rss_mb_first", "rss_mb_after_warmup", "rss_mb_last",
            "rss_mb_max", "rss_growth_after_warmup_mb", "rss_slope_mb_per_h",
            "rss_lowest_per_10min_slope_mb_per_h", "errors_in_log", "crashed",
            "exit_code", "stop_s")
    lines = ["# LightBox soak report", "", "| figure | value |", "|---|---|"]
    lines += [f"| {k} | {report.get(k)} |" for k in keys]
    top = report.get("tracemalloc_top_last")
    if top:
        lines += ["", f"tracemalloc growth since baseline: {top['growth_kb']} kB", ""]
        lines += [f"- {t['where']}: {t['size_diff_kb']} kB ({t['count_diff']} blocks)"
                  for t in top["top"]]
    lines += ["", "RSS over time (t_s: MB): " + ", ".join(
        f"{s['t_s']:.0f}: {s['rss_mb']}" for s in report["samples"][:: max(
            1, len(report["samples"]) // 30)])]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run a soak from the command line and write the report."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--hours", type=float)
    ap.add_argument("--minutes", type=float)
    ap.add_argument("--frames", type=int)
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--uncapped", action="store_true")
    ap.add_argument("--commands-per-s", type=float, default=20.0)
    ap.add_argument("--sample-s", type=float, default=10.0)
    ap.add_argument("--warmup-s", type=float, default=120.0)
    ap.add_argument("--tracemalloc", action="store_true")
    ap.add_argument("--looks", action="store_true",
                    help="notifications, presets and a playlist running in the mix")
    ap.add_argument("--report", type=Path, default=Path("soak-report.json"))
    ap.add_argument("--workdir", type=Path)
    args = ap.parse_args(argv)
    seconds = (args.hours or 0) * 3600 + (args.minutes or 0) * 60 or None
    if not seconds and not args.frames:
        seconds = 24 * 3600
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="lightbox-soak-"))
    report = run_soak(workdir, seconds=seconds, frames=args.frames, fps=args.fps,
                      uncapped=args.uncapped, commands_per_s=args.commands_per_s,
                      sample_s=args.sample_s, warmup_s=args.warmup_s,
                      tracemalloc=args.tracemalloc, progress=True, looks=args.looks)
    args.report.write_text(json.dumps(report, indent=2, default=str))
    md = markdown(report)
    args.report.with_suffix(".md").write_text(md)
    print(md)
    ok = not report["crashed"] and report["exit_code"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    wait_until(lambda: True, 0)
    sys.exit(main())
