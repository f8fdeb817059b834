"""The shared harness (appliance.testing): test processes get the display hooks, bench ones not."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.testing import LightboxProcess
from appliance.testing.settings import merge_sections
from benchmarks.harness import LightboxChild


def test_a_test_process_gets_the_virtual_display_hooks(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", "/run/systemd/notify")
    p = LightboxProcess("engine", tmp_path, {}, env={"EXTRA": "1"})
    env = p.environment()
    assert env["LIGHTBOX_VIRTUAL_SNAPSHOT"] == str(p.snapshot_path)
    assert env["LIGHTBOX_VIRTUAL_FAULT_FILE"] == str(p.fault_path)
    assert env["STATE_DIRECTORY"] == str(tmp_path / "state") and env["EXTRA"] == "1"
    assert "NOTIFY_SOCKET" not in env


def test_a_bench_child_runs_without_test_hooks(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIGHTBOX_VIRTUAL_SNAPSHOT", "/tmp/x.npy")
    env = LightboxChild("engine", tmp_path, {}, ["--uncapped"]).environment()
    assert not [k for k in env if k.startswith("LIGHTBOX_VIRTUAL_")]
    assert env["PYTHONUNBUFFERED"] == "1"


def test_settings_files_are_kept_for_tests_and_rewritten_for_benchmarks(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "settings.json").write_text('{"edited": true}')
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "settings.json").write_text('{"edited": true}')
    test = LightboxProcess("nope", tmp_path / "a", {"device_id": "x"})
    bench = LightboxChild("nope", tmp_path / "b", {"device_id": "x"})
    for p in (test, bench):
        p.start()
        p.stop()
    assert test.settings_path.read_text() == '{"edited": true}'
    assert '"device_id": "x"' in bench.settings_path.read_text()


def test_sections_merge_one_level_deep() -> None:
    base = {"mqtt": {"host": "h", "port": 1}, "device_id": "a"}
    assert merge_sections(base, {"mqtt": {"port": 2}, "device_id": "b", "new": [1]}) == {
        "mqtt": {"host": "h", "port": 2}, "device_id": "b", "new": [1]}
