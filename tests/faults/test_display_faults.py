"""Display faults: the virtual driver fails on demand (its public fault file) and comes back.

The engine must keep running, report display ``failed`` in health, retry the
driver with exponential back-off capped by display.retry_max_s (visible in
the display_error log lines) and say display_recovered when it works again.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

from tests.faults.conftest import (
    assert_loop_kept_pace,
    fresh_metrics,
    log_events,
    report_figure,
    watch,
)
from tests.support import LightboxProcess

Factory = Callable[..., LightboxProcess]


def test_display_failing_for_5_s_then_recovering(engine_factory: Factory, broker: Any) -> None:
    dev = "df"
    eng = engine_factory(dev, display={"retry_initial_s": 0.25, "retry_max_s": 1.0})
    p = watch(broker, dev)
    try:
        base = fresh_metrics(p, dev, lambda m: m["frames_total"] > 30)
        mark = p.mark()
        eng.fault_path.write_text("HUB75 driver lost its refresh thread")
        t0 = time.monotonic()
        failed = p.wait_for(f"lightbox/{dev}/health",
                            lambda h: h["checks"]["display"]["status"] == "failed",
                            timeout_s=10, since=mark)
        t_failed = time.monotonic() - t0
        assert failed["status"] == "failed"
        assert any("refresh thread" in r for r in failed["reasons"]), failed["reasons"]
        time.sleep(max(0.0, 5.0 - (time.monotonic() - t0)))
        assert eng.alive()
        eng.fault_path.unlink()
        t1 = time.monotonic()
        p.wait_for(f"lightbox/{dev}/events", lambda e: e.get("event") == "display_recovered",
                   timeout_s=10, since=mark)
        t_recovered = time.monotonic() - t1
        ok = p.wait_for(f"lightbox/{dev}/health",
                        lambda h: h["checks"]["display"]["status"] == "ok", timeout_s=10,
                        since=mark)
        assert ok["checks"]["display"]["status"] == "ok"
        # Exponential back-off, capped: 0.25, 0.5, 1, 1, ... in the journal lines.
        delays = [e["retry_in_s"] for e in log_events(eng, "display_error")]
        assert delays[:3] == [0.25, 0.5, 1.0], delays
        assert max(delays) == 1.0 and len(delays) <= 5 / 0.25, delays
        assert all(b >= a for a, b in itertools.pairwise(delays))
        assert log_events(eng, "display_recovered")
        m = fresh_metrics(p, dev)
        assert m["display_errors_total"] - base["display_errors_total"] == len(delays)
        # Frames kept being produced all along (the loop never blocked on the driver).
        assert_loop_kept_pace(base, m)
        report_figure("display_fault_5s", failed_seen_after_s=round(t_failed, 2),
                      recovered_after_fix_s=round(t_recovered, 2), retry_delays_s=delays)
    finally:
        p.close()
