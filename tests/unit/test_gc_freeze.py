"""The engine process freezes its start-up heap once the first frame is on the panel.

A full (generation 2) collection walks every tracked object; over the start-up heap
that cost a whole frame at a small CPU share (docs/performance.md, CPU budget). After
``gc.freeze()`` start-up's objects sit in the permanent generation and the frame loop's
collections walk only what is new. The test runs a real engine in this process (fake
clock, virtual display) and looks at the freeze count, not at any timing.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from animations import REGISTRY
from appliance import service
from appliance.display.virtual import VirtualDisplay
from appliance.render.clock import FakeClock
from appliance.render.engine import Engine
from appliance.settings import validate


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """No frozen objects before the test, and none left after it (for the tests after)."""
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_the_start_up_heap_is_frozen_after_the_first_frame_not_before(
        tmp_path: Path, unfrozen: None, monkeypatch: pytest.MonkeyPatch) -> None:
    svc = service.EngineService(tmp_path / "settings.json")
    svc.engine = Engine(validate({"device_id": "gc"}), VirtualDisplay(16, 8), REGISTRY,
                        clock=FakeClock())
    started = threading.Event()
    monkeypatch.setattr(svc, "_start_services", started.set)
    monkeypatch.setattr(svc, "_ready", lambda: None)
    ready = threading.Thread(target=svc._ready_when_drawing, daemon=True)
    ready.start()
    svc.engine.start()
    assert not started.wait(0.05)  # still waiting for the first frame
    assert gc.get_freeze_count() == 0
    svc.engine.run(threading.Event(), max_frames=1)
    ready.join(10)
    assert not ready.is_alive()
    assert started.is_set()
    assert gc.get_freeze_count() > 0


def test_no_freeze_without_a_first_frame(
        tmp_path: Path, unfrozen: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "SERVICES_WAIT_S", 0.0)
    monkeypatch.setattr(service, "READY_WAIT_S", 0.0)
    svc = service.EngineService(tmp_path / "settings.json")
    svc.engine = Engine(validate({"device_id": "gc"}), VirtualDisplay(16, 8), REGISTRY,
                        clock=FakeClock())
    started = threading.Event()
    monkeypatch.setattr(svc, "_start_services", started.set)
    svc._ready_when_drawing()  # a display that never draws: services start, nothing frozen
    assert started.is_set()
    assert gc.get_freeze_count() == 0
