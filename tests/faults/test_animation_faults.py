"""Animation faults against a real engine process: raise, hang, garbage, leak, broken fallback.

The evil animations come in through the public test hook $LIGHTBOX_EXTRA_ANIMATIONS
and misbehave while their flag file exists. Each test checks the fallback took
over within two frames (``held_frames`` in the engine's own fallback_activated
event), the quarantine, the retry after it, the recovery, and the counters.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tests.faults.conftest import (
    Evil,
    assert_loop_kept_pace,
    events,
    fresh_metrics,
    log_events,
    report_figure,
    watch,
)
from tests.support import LightboxProcess, wait_until

Factory = Callable[..., LightboxProcess]

QUARANTINE_S = 3.0


def _animation(default: str, fallback: str = "breathe", **extra: Any) -> dict[str, Any]:
    return {"default": default, "fallback": fallback, "boot": "default",
            "quarantine_failures": 3, "quarantine_window_s": 30, "quarantine_s": QUARANTINE_S,
            "hang_budget_frames": 10, **extra}


@pytest.mark.parametrize(("name", "params", "kind"), [
    ("evil_raise", {}, "exception"),
    ("evil_garbage", {"kind": "shape"}, "garbage"),
    ("evil_garbage", {"kind": "text"}, "garbage"),
    ("evil_hang", {"mode": "busy"}, "hang"),
    ("evil_hang", {"mode": "sleep"}, "hang"),
])
def test_failing_animation_falls_back_quarantines_and_recovers(
        engine_factory: Factory, broker: Any, evil: Evil, name: str, params: dict[str, Any],
        kind: str) -> None:
    dev = f"af-{kind[:4]}-{params.get('mode', params.get('kind', 'x'))}"
    eng = engine_factory(dev, env=evil.env,
                         animation=_animation(name, params={name: params} if params else {}))
    p = watch(broker, dev)
    try:
        base = fresh_metrics(p, dev, lambda m: m["frames_total"] > 30)
        mark = p.mark()
        evil.on(name)
        t_on = time.monotonic()
        fb = p.wait_for(f"lightbox/{dev}/events", lambda e: e.get("event") == "fallback_activated",
                        timeout_s=10, since=mark)
        # The engine's own count: frames the panel held the failing animation's last frame.
        assert fb["held_frames"] <= 2, fb
        assert fb["kind"] == kind and fb["animation"] == name
        q = p.wait_for(f"lightbox/{dev}/events",
                       lambda e: e.get("event") == "animation_quarantined", timeout_s=10,
                       since=mark)
        t_quarantined = time.monotonic() - t_on
        health = p.wait_for(f"lightbox/{dev}/health",
                            lambda h: any("quarantined" in r for r in h["reasons"]),
                            timeout_s=10, since=mark)
        assert health["checks"]["render"]["status"] == "degraded"
        state = p.wait_for(f"lightbox/{dev}/state", lambda s: s.get("active") == "breathe",
                           timeout_s=5, since=mark)
        assert state["effect"] == name  # what was asked for stays asked for
        # The panel keeps moving on the fallback (not frozen, not dark).
        time.sleep(0.8)
        assert eng.alive()
        evil.off(name)
        rec = p.wait_for(f"lightbox/{dev}/events",
                         lambda e: e.get("event") == "animation_recovered", timeout_s=15,
                         since=mark)
        t_recovered = time.monotonic() - t_on
        assert rec["animation"] == name
        retry = events(p, dev, "animation_retry", since=mark)
        assert retry, "the quarantined animation was retried after quarantine_s"
        m = fresh_metrics(p, dev, lambda m: m["recoveries_total"] > base["recoveries_total"])
        errors = m["animation_errors_total"] - base["animation_errors_total"]
        assert errors == (1 if kind == "hang" else q["failures"]), m
        assert m["fallbacks_total"] - base["fallbacks_total"] == 1
        assert m["quarantines_total"] - base["quarantines_total"] == 1
        if kind == "hang":
            assert m["animation_hangs_total"] - base["animation_hangs_total"] == 1
            assert m["animation_late_frames_total"] > base["animation_late_frames_total"]
            # A busy loop is interrupted; a thread asleep in C stays parked (bounded, counted).
            assert m["animation_threads_abandoned"] == (1 if params["mode"] == "sleep" else 0)
        # No frame gap over 100 ms while all this happened (the engine's own clock).
        assert_loop_kept_pace(base, m)
        failed = log_events(eng, "animation_failed")
        assert failed and failed[0]["kind"] == kind and failed[0]["level"] == "error"
        report_figure(f"animation_{kind}_{params.get('mode', params.get('kind', ''))}",
                      held_frames=fb["held_frames"], quarantined_after_s=round(t_quarantined, 2),
                      recovered_after_s=round(t_recovered, 2), errors=errors,
                      frame_gap_ms_max_recent=m["frame_gap_ms_max_recent"],
                      late_frames=m["animation_late_frames_total"])
    finally:
        p.close()


def test_nan_and_out_of_range_pixels_are_made_safe_not_failures(
        engine_factory: Factory, broker: Any, evil: Evil) -> None:
    dev = "af-nan"
    evil.on("evil_garbage")
    nan = _animation("evil_garbage", params={"evil_garbage": {"kind": "nan"}})
    eng = engine_factory(dev, env=evil.env, animation=nan)
    p = watch(broker, dev)
    try:
        m = fresh_metrics(p, dev, lambda m: m["frames_total"] > 60)
        assert m["animation_errors_total"] == 0
        wait_until(lambda: eng.panel() is not None, 5, message="a panel snapshot")
        panel = eng.panel()
        assert panel is not None
        assert panel.dtype == np.uint8
        assert panel[0].max() == 255 and panel[1].max() == 0 and panel[5].max() == 0
    finally:
        p.close()


def test_failing_fallback_goes_blank(engine_factory: Factory, broker: Any, evil: Evil) -> None:
    dev = "af-fb"
    eng = engine_factory(dev, env=evil.env, animation=_animation("evil_raise", "evil_fallback"))
    p = watch(broker, dev)
    try:
        mark = p.mark()
        evil.on("evil_fallback")
        evil.on("evil_raise")
        ev = p.wait_for(f"lightbox/{dev}/events", lambda e: e.get("event") == "fallback_failed",
                        timeout_s=10, since=mark)
        assert ev["replacement"] == "blank"
        m = fresh_metrics(p, dev, lambda m: m["fallback_failures_total"] >= 1)
        assert m["animation_errors_total"] >= 2
        time.sleep(1.0)  # snapshots are written every 15 frames
        panel = eng.panel()
        assert panel is not None and int(panel.max()) == 0, "the panel is blank, not frozen"
        assert eng.alive()
    finally:
        p.close()


def test_leaking_animation_is_failed_rebuilt_and_quarantined(
        engine_factory: Factory, broker: Any, evil: Evil) -> None:
    dev = "af-leak"
    eng = engine_factory(dev, env=evil.env, animation=_animation("evil_leak", leak_mb=48))
    p = watch(broker, dev)
    try:
        base = fresh_metrics(p, dev, lambda m: m["frames_total"] > 30)
        mark = p.mark()
        evil.on("evil_leak")
        fb = p.wait_for(f"lightbox/{dev}/events", lambda e: e.get("event") == "fallback_activated",
                        timeout_s=15, since=mark)
        assert fb["kind"] == "leak"
        evil.off("evil_leak")
        p.wait_for(f"lightbox/{dev}/events", lambda e: e.get("event") == "animation_recovered",
                   timeout_s=15, since=mark)
        m = fresh_metrics(p, dev, lambda m: m["animation_leaks_total"] >= 1)
        assert m["quarantines_total"] - base["quarantines_total"] == 1
        # The leaking instance was dropped: memory went back down.
        wait_until(lambda: fresh_metrics(p, dev)["rss_mb"] < base["rss_mb"] + 40, 10,
                   interval_s=0.5, message="memory released")
        assert eng.alive()
        report_figure("animation_leak", rss_before_mb=base["rss_mb"], rss_after_mb=m["rss_mb"])
    finally:
        p.close()
