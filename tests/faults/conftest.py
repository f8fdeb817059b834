"""Fault-injection helpers: evil animations, a fake systemd notify socket, figure reporting.

Every fault here is injected from outside the engine process through its
public hooks: the virtual display's fault file, $LIGHTBOX_EXTRA_ANIMATIONS with
flag files for the evil animations, signals, a killed broker, broken files.
Measured figures are appended to ``$LIGHTBOX_FAULT_REPORT`` (default
``.pytest_cache/fault-figures.jsonl``) and printed, for the closing report.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance.testing import MQTTProbe

#: Fault tests that run in-process (no broker, no engine subprocess): not integration.
IN_PROCESS_MODULES = frozenset({"test_bounded.py"})
HERE = Path(__file__).resolve().parent

EVIL_MODULE = "tests.faults.evil_animations"
REPO = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every fault test that needs a broker or engine processes as ``integration``.

    A ``pytestmark`` in a conftest marks nothing (pytest reads it from test modules
    only), so ``-m "not integration"`` used to select tests that start engines and
    kill brokers. The hook sees the whole session's items: only ours are marked.
    """
    for item in items:
        path = Path(str(item.path)).resolve()
        if path.parent == HERE and path.name not in IN_PROCESS_MODULES:
            item.add_marker(pytest.mark.integration)


def report_figure(test: str, **figures: Any) -> None:
    """Record measured figures of a fault test (printed with -s, kept in a JSON-lines file)."""
    path = Path(os.environ.get("LIGHTBOX_FAULT_REPORT",
                               REPO / ".pytest_cache" / "fault-figures.jsonl"))
    line = json.dumps({"test": test, "ts": time.time(), **figures}, default=str)
    print(f"\nFIGURES {line}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
    except OSError:
        pass


class Evil:
    """Switches the evil animations' faults on and off through their flag files."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def env(self) -> dict[str, str]:
        """Environment for an engine that knows the evil animations."""
        return {"LIGHTBOX_EXTRA_ANIMATIONS": EVIL_MODULE, "LIGHTBOX_EVIL_DIR": str(self.folder)}

    def on(self, name: str) -> None:
        """Make ``name`` misbehave."""
        (self.folder / f"{name}.fail").touch()

    def off(self, name: str) -> None:
        """Make ``name`` behave."""
        (self.folder / f"{name}.fail").unlink(missing_ok=True)


@pytest.fixture
def evil(tmp_path: Path) -> Evil:
    """Flag files for the evil animations of this test."""
    return Evil(tmp_path / "evil")


class NotifySocket:
    """A fake systemd: a unix datagram socket that records sd_notify messages."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.messages: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except OSError:
                continue
            now = time.monotonic()
            with self._lock:
                for line in data.decode(errors="replace").splitlines():
                    self.messages.append((now, line))

    def seen(self, prefix: str, since: float = 0.0) -> list[tuple[float, str]]:
        """Messages starting with ``prefix`` received after monotonic ``since``."""
        with self._lock:
            return [(t, m) for t, m in self.messages if m.startswith(prefix) and t >= since]

    def close(self) -> None:
        """Stop listening."""
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[NotifySocket]:
    """A bound NOTIFY_SOCKET for an engine subprocess."""
    # AF_UNIX paths are limited to ~107 bytes: keep it short.
    path = Path(f"/tmp/lbn-{os.getpid()}-{time.monotonic_ns() % 10**9}.sock")
    ns = NotifySocket(path)
    yield ns
    ns.close()
    path.unlink(missing_ok=True)


def watch(broker: Any, device: str, user: str = "homeassistant") -> MQTTProbe:
    """A probe subscribed to everything of one device (and its discovery)."""
    p = MQTTProbe(broker, user).connect()
    p.subscribe(f"lightbox/{device}/#", f"homeassistant/device/lightbox_{device}/config")
    return p


def events(p: MQTTProbe, device: str, name: str, since: int = 0) -> list[dict[str, Any]]:
    """Events of one kind seen by a probe."""
    out = []
    for msg in p.messages[since:]:
        if msg.topic == f"lightbox/{device}/events":
            try:
                ev = json.loads(msg.payload)
            except ValueError:
                continue
            if ev.get("event") == name:
                out.append(ev)
    return out


def fresh_metrics(p: MQTTProbe, device: str, pred: Callable[[dict[str, Any]], bool] | None = None,
                  timeout_s: float = 15.0) -> dict[str, Any]:
    """The next metrics document published after now (matching ``pred``)."""
    mark = p.mark()
    return p.wait_for(f"lightbox/{device}/metrics", pred, timeout_s=timeout_s, since=mark)  # type: ignore[no-any-return]


#: One frame at the engine's default 30 fps, and the worst gap allowed on an overloaded
#: machine (the OS may keep a correct loop waiting a few frames; a blocked one is longer).
FRAME_BUDGET_MS = 1000.0 / 30
LOADED_GAP_LIMIT_MS = 8 * FRAME_BUDGET_MS


def overloaded() -> bool:
    """True when more runnable work than CPUs (1-minute load average): other tests, helpers."""
    return os.getloadavg()[0] >= (os.cpu_count() or 1)


def assert_loop_kept_pace(before: dict[str, Any], after: dict[str, Any]) -> None:
    """The render loop drew on between two metrics documents, with no stall.

    No gap over 100 ms (the target) on a machine that is not overloaded; on an
    overloaded one the worst recent gap stays under ``LOADED_GAP_LIMIT_MS``. Never a
    frame count in a time window: that depends on the machine's speed.
    """
    assert after["frames_total"] > before["frames_total"], (before, after)
    if not overloaded():
        assert after["frame_gaps_over_100ms_total"] == before["frame_gaps_over_100ms_total"], after
    else:
        assert after["frame_gap_ms_max_recent"] < LOADED_GAP_LIMIT_MS, after


def log_events(proc: Any, name: str) -> list[dict[str, Any]]:
    """JSON log lines of one event name."""
    return [e for e in proc.log_events() if e.get("event") == name]
