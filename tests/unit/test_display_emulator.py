"""The emulator driver: a clear error without the extra, and the real package headless."""

from __future__ import annotations

import contextlib
import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from appliance.display import DisplayError, make_display
from appliance.display.emulator import CONFIG_NAME, EmulatorDisplay
from appliance.settings import DisplaySettings


def cfg(**kw: object) -> DisplaySettings:
    return DisplaySettings(driver="emulator", rows=32, cols=64, **kw)  # type: ignore[arg-type]


def test_make_display_builds_the_emulator() -> None:
    assert isinstance(make_display(cfg()), EmulatorDisplay)


def test_missing_package_is_a_clear_display_error(tmp_path: Path) -> None:
    def loader(name: str) -> ModuleType:
        raise ImportError("No module named 'RGBMatrixEmulator'")

    d = EmulatorDisplay(cfg(), config_dir=tmp_path, loader=loader)
    with pytest.raises(DisplayError, match=r"not installed.*pip install 'lightbox\[emulator\]'"):
        d.start()
    assert not d.started
    assert Path.cwd() != tmp_path


@pytest.fixture
def raw_emulator(tmp_path: Path) -> Iterator[EmulatorDisplay]:
    """The real RGBMatrixEmulator on its headless ``raw`` adapter, configured in tmp_path."""
    if importlib.util.find_spec("RGBMatrixEmulator") is None:
        pytest.skip("RGBMatrixEmulator is not installed (pip install 'lightbox[emulator]')")
    (tmp_path / CONFIG_NAME).write_text('{"display_adapter": "raw", "log_level": "warning"}')
    with contextlib.chdir(tmp_path):  # importing it reads (or writes) ./emulator_config.json
        from RGBMatrixEmulator.adapters.raw_adapter import RawAdapter

    RawAdapter.INSTANCE = None  # the emulator keeps one adapter per process
    d = EmulatorDisplay(cfg(brightness=100), config_dir=tmp_path / "emu", adapter="raw")
    yield d
    d.stop()
    RawAdapter.INSTANCE = None


def test_real_emulator_shows_frames_headless(raw_emulator: EmulatorDisplay, tmp_path: Path) -> None:
    cwd = Path.cwd()
    existed = (cwd / CONFIG_NAME).exists()
    d = raw_emulator
    d.start()
    assert Path.cwd() == cwd
    written = json.loads((tmp_path / "emu" / CONFIG_NAME).read_text())
    assert written["display_adapter"] == "raw"
    assert (cwd / CONFIG_NAME).exists() == existed  # nothing written where we run
    rng = np.random.default_rng(3)
    for _ in range(20):
        frame = rng.integers(0, 256, (32, 64, 3), dtype=np.uint8)
        d.show(frame)
        shown = d.canvas_pixels()
        assert shown is not None and np.array_equal(shown, frame)
        d.start()  # idempotent
    assert d.canvases_created == 1 and d.frames_shown == 20
    h = d.health()
    assert h["adapter"] == "RawAdapter" and h["geometry"] == "64x32"


def test_real_emulator_brightness_and_stop(raw_emulator: EmulatorDisplay) -> None:
    d = raw_emulator
    d.start()
    d.set_brightness(50)
    d.show(np.full((32, 64, 3), 200, np.uint8))
    shown = d.canvas_pixels()
    assert shown is not None and int(shown.max()) == 100
    d.clear()
    shown = d.canvas_pixels()
    assert shown is not None and not shown.any()


def test_keeps_an_existing_config(tmp_path: Path) -> None:
    (tmp_path / CONFIG_NAME).write_text('{"display_adapter": "terminal"}')
    d = EmulatorDisplay(cfg(), config_dir=tmp_path, adapter="raw")
    d._write_config(tmp_path)
    assert json.loads((tmp_path / CONFIG_NAME).read_text()) == {"display_adapter": "terminal"}
