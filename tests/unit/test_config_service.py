"""The config service's hand-off to the render loop, and the state.json timer, with fakes."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from appliance import config_service, service
from appliance.config_service import ConfigService
from appliance.content.library import Library
from appliance.render.engine import ApplySettings
from appliance.settings import Settings, SettingsStore
from appliance.state_files import StateFiles
from appliance.telemetry import ConfigStatus
from appliance.wire.commands import CommandError
from appliance.wire.replies import Reply


class FakeLooks:
    """What the state files read of the looks: the library and the playlist position."""

    def __init__(self) -> None:
        self.library = Library()
        self.position_version = 0

    def position(self) -> None:
        return None

    def preload(self) -> None:
        """Nothing plays: no images to decode."""


class FakeEngine:
    """Answers ``call`` with a future the test resolves (or never does)."""

    def __init__(self) -> None:
        self.settings = Settings()
        self.calls: list[tuple[ApplySettings, Future[Reply]]] = []
        self.state_version = 3
        self.schedule = SimpleNamespace(underlying=lambda: None)  # no window's look in force
        self.looks = FakeLooks()

    def call(self, command: ApplySettings) -> Future[Reply]:
        future: Future[Reply] = Future()
        self.calls.append((command, future))
        return future

    def state(self) -> dict[str, Any]:
        return {"effect": "plasma", "params": {"speed": 2}, "brightness": 40, "state": "ON",
                "preset": None}

    def watch_image(self) -> None:
        self.image_watches = getattr(self, "image_watches", 0) + 1


def _service(tmp_path: Path, engine: FakeEngine) -> ConfigService:
    path = tmp_path / "settings.json"
    return ConfigService(engine, SettingsStore(path), path, Settings(),  # type: ignore[arg-type]
                         ConfigStatus(), lambda name, body: None)


def test_apply_waits_for_the_render_loops_reply(tmp_path: Path) -> None:
    engine = FakeEngine()
    svc = _service(tmp_path, engine)
    result: list[CommandError | None] = []
    t = threading.Thread(target=lambda: result.append(svc.apply(Settings())))
    t.start()
    while not engine.calls:
        time.sleep(0.001)
    command, future = engine.calls[0]
    assert isinstance(command, ApplySettings) and command.source == "config"
    err = CommandError("apply_failed", "settings could not be applied: x")
    future.set_result(Reply(False, error=err))
    t.join(10)
    assert result == [err]


def test_apply_gives_up_when_the_render_loop_never_answers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config_service, "APPLY_TIMEOUT_S", 0.01)
    err = _service(tmp_path, FakeEngine()).apply(Settings())
    assert err is not None and err.code == "timeout"


def test_state_is_saved_by_its_own_timer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "STATE_SAVE_S", 0.01)
    svc = service.EngineService(tmp_path / "settings.json")
    svc.files = StateFiles(tmp_path)
    svc.engine = FakeEngine()  # type: ignore[assignment]
    t = threading.Thread(target=svc._state_timer, daemon=True)
    t.start()
    deadline = time.monotonic() + 10
    while not svc.files.state_file.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    svc.stop_event.set()
    t.join(10)
    assert svc.engine.image_watches >= 1  # type: ignore[attr-defined]  # the same timer
    assert json.loads(svc.files.state_file.read_text()) == {
        "effect": "plasma", "params": {"speed": 2}, "brightness": 40, "power_on": True,
        "preset": None, "playlist": None}
