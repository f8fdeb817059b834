"""The canvas base: the rgbmatrix and emulator drivers draw, dim and blank the same way.

Both run on the fake ``rgbmatrix`` binding (the emulator mimics the same API),
so what is asserted here is the shared code in ``appliance.display.canvas``.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from appliance.display.canvas import CanvasDisplay
from appliance.display.emulator import ADAPTER_ENV, EmulatorDisplay
from appliance.display.hzeller import RGBMatrixDisplay
from appliance.ops.checks import Machine
from appliance.settings import DisplaySettings
from tests.unit.fake_binding import imported_fake
from tests.unit.fixtures_sys import make_tree


@pytest.fixture
def fake() -> Iterator[ModuleType]:
    """The fake ``rgbmatrix`` module for the test's duration."""
    with imported_fake() as mod:
        yield mod


def _cfg(**kw: Any) -> DisplaySettings:
    return DisplaySettings(**{"driver": "rgbmatrix", "rows": 32, "cols": 64, **kw})


def _rgbmatrix(fake: ModuleType, tmp: Path, **kw: Any) -> CanvasDisplay:
    machine = Machine(root=make_tree("pi4", tmp), euid=lambda: 0)
    return RGBMatrixDisplay(_cfg(**kw), machine=machine, loader=lambda name: fake)


def _emulator(fake: ModuleType, tmp: Path, **kw: Any) -> CanvasDisplay:
    return EmulatorDisplay(_cfg(**kw), config_dir=tmp / "emu", loader=lambda name: fake)


DRIVERS: dict[str, Callable[..., CanvasDisplay]] = {"rgbmatrix": _rgbmatrix,
                                                    "emulator": _emulator}


@pytest.fixture(params=sorted(DRIVERS))
def make(request: pytest.FixtureRequest, fake: ModuleType, tmp_path: Path,
         monkeypatch: pytest.MonkeyPatch) -> Callable[..., CanvasDisplay]:
    monkeypatch.delenv(ADAPTER_ENV, raising=False)
    build = DRIVERS[request.param]
    return lambda **kw: build(fake, tmp_path, **kw)


def test_brightness_is_set_on_the_matrix_and_the_canvas_drawn_into(
        make: Callable[..., CanvasDisplay], fake: ModuleType) -> None:
    d = make(brightness=40)
    d.start()
    (m,) = fake.live_matrices()
    assert m.brightness == 40 and d._canvas.brightness == 40
    d.set_brightness(70)
    assert m.brightness == 70 and d._canvas.brightness == 70
    for _ in range(2):  # both framebuffers take turns as the one drawn into
        d.show(np.full((32, 64, 3), 9, np.uint8))
        assert d._canvas.brightness == 70


def test_blank_clears_both_framebuffers(make: Callable[..., CanvasDisplay],
                                        fake: ModuleType) -> None:
    d = make()
    d.start()
    (m,) = fake.live_matrices()
    d.show(np.full((32, 64, 3), 200, np.uint8))
    d.show(np.full((32, 64, 3), 100, np.uint8))  # both buffers now hold a frame
    d.clear()
    assert not m.shown().any()
    assert not d._canvas.pixels.any()  # a later swap cannot bring an old frame back


def test_one_canvas_for_the_life_of_the_panel(make: Callable[..., CanvasDisplay],
                                              fake: ModuleType) -> None:
    d = make()
    d.start()
    for v in range(5):
        d.show(np.full((32, 64, 3), v, np.uint8))
        d.start()  # idempotent
    (m,) = fake.live_matrices()
    assert len(m.created_canvases) == 1 and d.canvases_created == 1 and d.frames_shown == 5
    del m
    d.stop()
    gc.collect()  # a matrix and its canvases reference each other
    assert not d.started and fake.live_matrices() == []
