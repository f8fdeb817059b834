"""Graceful stop and systemd: SIGTERM/SIGINT, SIGKILL and the Last Will, sd_notify, blank.

sd_notify is checked with a fake systemd: a unix datagram socket the test binds
and hands to the engine as NOTIFY_SOCKET.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.faults.conftest import Evil, NotifySocket, log_events, report_figure, watch
from tests.support import LIGHTBOX, LightboxProcess, MQTTProbe, engine_settings, wait_until

Factory = Callable[..., LightboxProcess]


class NotifiedProcess(LightboxProcess):
    """An engine subprocess that keeps NOTIFY_SOCKET (the shared helper strips it)."""

    notify_path: str = ""

    def start(self) -> LightboxProcess:
        """Write the settings and start with NOTIFY_SOCKET set."""
        import json

        self.workdir.mkdir(parents=True, exist_ok=True)
        self.settings_path.write_text(json.dumps(self.settings, indent=2))
        (self.workdir / "state").mkdir(exist_ok=True)
        env = {**os.environ, "PYTHONUNBUFFERED": "1",
               "LIGHTBOX_VIRTUAL_SNAPSHOT": str(self.snapshot_path),
               "LIGHTBOX_VIRTUAL_FAULT_FILE": str(self.fault_path),
               "STATE_DIRECTORY": str(self.workdir / "state"), **self.env,
               "NOTIFY_SOCKET": self.notify_path}
        self.process = subprocess.Popen(
            [*LIGHTBOX, self.command, "--settings", str(self.settings_path), *self.extra_args],
            stdout=self.log_path.open("ab"), stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        return self


def _wait_exit(proc: LightboxProcess, timeout_s: float = 10) -> tuple[int | None, float]:
    assert proc.process is not None
    t0 = time.monotonic()
    try:
        code = proc.process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        return None, timeout_s
    return code, time.monotonic() - t0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly_dark_offline_exit_0_within_2s(
        engine_factory: Factory, broker: Any, sig: signal.Signals) -> None:
    dev = f"stop-{sig.name.lower()}"
    eng = engine_factory(dev, animation={"default": "solid", "boot": "default",
                                         "params": {"solid": {"color": "#ffffff"}}})
    p = watch(broker, dev, user="lightbox-monitor")
    try:
        wait_until(lambda: (pn := eng.panel()) is not None and pn.max() > 0, 10,
                   message="a lit panel")
        mark = p.mark()
        eng.signal(sig)
        code, took = _wait_exit(eng)
        assert code == 0, eng.log()[-2000:]
        # The engine's own stop work within 2 s; the process exit (interpreter teardown,
        # scheduling) gets more room on a slow or loaded machine.
        assert log_events(eng, "engine_exit")[-1]["stop_ms"] < 2000
        assert took < 5.0, f"stop took {took:.2f} s"
        p.wait_for(f"lightbox/{dev}/status", lambda v: v == "offline", timeout_s=5, since=mark)
        panel = eng.panel()
        assert panel is not None and not np.any(panel), "the panel is dark after the stop"
        exit_line = log_events(eng, "engine_exit")[-1]
        report_figure(f"stop_{sig.name}", wall_s=round(took, 3),
                      engine_stop_ms=exit_line["stop_ms"])
    finally:
        p.close()


def test_sigkill_fires_the_last_will(engine_factory: Factory, broker: Any) -> None:
    dev = "stop-kill"
    eng = engine_factory(dev)
    p = watch(broker, dev, user="lightbox-monitor")
    try:
        mark = p.mark()
        t0 = time.monotonic()
        eng.kill()
        p.wait_for(f"lightbox/{dev}/status", lambda v: v == "offline", timeout_s=10, since=mark)
        report_figure("sigkill_lwt", offline_after_s=round(time.monotonic() - t0, 3))
    finally:
        p.close()


def test_lightbox_blank_darkens_the_panel_after_a_crash(engine_factory: Factory,
                                                        broker: Any) -> None:
    dev = "stop-blank"
    eng = engine_factory(dev, animation={"default": "solid", "boot": "default"})
    wait_until(lambda: (pn := eng.panel()) is not None and pn.max() > 0, 10,
               message="a lit panel")
    eng.kill()
    panel = eng.panel()
    assert panel is not None and panel.max() > 0, "a dead engine left the panel lit"
    env = {**os.environ, "LIGHTBOX_VIRTUAL_SNAPSHOT": str(eng.snapshot_path)}
    out = subprocess.run([*LIGHTBOX, "blank", "--settings", str(eng.settings_path)], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    panel = eng.panel()
    assert panel is not None and not np.any(panel)


def _notified(tmp_path: Path, broker: Any, ns: NotifySocket, dev: str,
              env: dict[str, str] | None = None, **sections: Any) -> NotifiedProcess:
    proc = NotifiedProcess("engine", tmp_path / f"engine-{dev}",
                           engine_settings(broker, dev, **sections), [], env or {})
    proc.notify_path = str(ns.path)
    proc.start()
    return proc


def test_sd_notify_ready_watchdog_status_stopping(tmp_path: Path, broker: Any,
                                                  notify_socket: NotifySocket) -> None:
    ns = notify_socket
    proc = _notified(tmp_path, broker, ns, "sdn")
    try:
        wait_until(lambda: ns.seen("READY=1"), 20, message="READY=1")
        ready_at = ns.seen("READY=1")[0][0]
        # READY only after the first frame is up.
        assert log_events(proc, "engine_ready")[0]["display_ok"] is True
        wait_until(lambda: len(ns.seen("WATCHDOG=1", ready_at)) >= 2, 10, message="WATCHDOG=1")
        wait_until(lambda: ns.seen("STATUS="), 10, message="STATUS=")
        # A stopped loop (SIGSTOP freezes every thread) sends no WATCHDOG=1.
        proc.signal(signal.SIGSTOP)
        frozen_at = time.monotonic()
        time.sleep(2.5)
        assert not ns.seen("WATCHDOG=1", frozen_at + 0.1)
        proc.signal(signal.SIGCONT)
        wait_until(lambda: ns.seen("WATCHDOG=1", frozen_at + 2.5), 5, message="WATCHDOG again")
        proc.signal(signal.SIGTERM)
        code, took = _wait_exit(proc)
        assert code == 0 and took < 5.0
        assert log_events(proc, "engine_exit")[-1]["stop_ms"] < 2000
        assert ns.seen("STOPPING=1")
        report_figure("sd_notify", stop_s=round(took, 3),
                      watchdog_interval_s=_interval(ns.seen("WATCHDOG=1")[:4]))
    finally:
        proc.kill()


def test_hung_loop_stops_the_watchdog(tmp_path: Path, broker: Any, notify_socket: NotifySocket,
                                      evil: Evil) -> None:
    """With isolation off, a hanging animation hangs the loop itself: WATCHDOG=1 must stop."""
    ns = notify_socket
    proc = _notified(tmp_path, broker, ns, "sdnhang", env=evil.env,
                     animation={"default": "evil_hang", "boot": "default", "isolation": "none"},
                     health={"interval_s": 1, "metrics_interval_s": 1, "stall_s": 1})
    p: MQTTProbe | None = None
    try:
        wait_until(lambda: len(ns.seen("WATCHDOG=1")) >= 2, 20, message="WATCHDOG=1")
        p = watch(broker, "sdnhang", user="lightbox-monitor")
        evil.on("evil_hang")
        hung_at = time.monotonic()
        time.sleep(3.0)
        late = ns.seen("WATCHDOG=1", hung_at + 1.2)
        assert not late, "a hung render loop kept feeding the watchdog"
        # Health says so (from the telemetry thread, which still runs).
        p.wait_for("lightbox/sdnhang/health",
                   lambda h: h["checks"]["render"]["status"] == "failed", timeout_s=10)
        assert any("stalled" in m for _, m in ns.seen("STATUS=", hung_at))
    finally:
        if p is not None:
            p.close()
        proc.kill()


def _interval(seen: list[tuple[float, str]]) -> float | None:
    if len(seen) < 2:
        return None
    stamps = [t for t, _ in seen]
    return round((stamps[-1] - stamps[0]) / (len(stamps) - 1), 2)
