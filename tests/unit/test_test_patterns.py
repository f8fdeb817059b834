"""Test patterns rendered on the virtual display, pixels checked; `lightbox test-pattern`."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from animations import REGISTRY
from animations.test_patterns import BAR_COLOURS, PATTERNS, number_bitmap
from appliance.display.virtual import VirtualDisplay
from appliance.ops import testpattern
from appliance.render.frame import FrameGuard
from appliance.settings import DisplaySettings

GEOMETRIES = [(64, 32), (128, 64), (32, 16)]


def render(name: str, w: int, h: int, t: float = 0.0, **params: Any) -> np.ndarray:
    """Draw one frame through the choke point onto a virtual display and read it back."""
    display = VirtualDisplay(w, h)
    display.start()
    anim = REGISTRY.create(name, w, h, params)
    display.show(FrameGuard(w, h)(anim.draw(t)))
    return display.frame()


def test_all_patterns_are_registered_as_test_with_advice() -> None:
    for name in PATTERNS:
        cls = REGISTRY.get(name)
        assert cls.category == "test"
        assert "display." in cls.description, name  # names the setting that fixes it
    catalogue = {a["name"]: a for a in REGISTRY.catalogue()}
    assert all(catalogue[n]["category"] == "test" for n in PATTERNS)


@pytest.mark.parametrize(("name", "colour"), [
    ("test_red", (255, 0, 0)), ("test_green", (0, 255, 0)), ("test_blue", (0, 0, 255)),
    ("test_white", (255, 255, 255)),
])
@pytest.mark.parametrize(("w", "h"), GEOMETRIES)
def test_solid_colours_are_pure(name: str, colour: tuple[int, int, int], w: int, h: int) -> None:
    frame = render(name, w, h, t=3.7)
    assert frame.shape == (h, w, 3)
    assert (frame == np.array(colour, np.uint8)).all()


def test_solid_level_dims_without_mixing_channels() -> None:
    frame = render("test_red", 64, 32, level=100)
    assert (frame[..., 0] == 100).all() and not frame[..., 1:].any()


@pytest.mark.parametrize(("w", "h"), GEOMETRIES)
def test_walking_pixel_visits_every_position_once_in_order(w: int, h: int) -> None:
    speed = 50.0
    display = VirtualDisplay(w, h)
    display.start()
    guard = FrameGuard(w, h)
    anim = REGISTRY.create("test_walk", w, h, {"speed": speed})
    visited: list[tuple[int, int]] = []
    for i in range(w * h):
        display.show(guard(anim.draw(i / speed)))
        frame = display.frame()
        lit = np.argwhere(frame.any(axis=2))
        assert len(lit) == 1, f"frame {i}: {len(lit)} pixels lit"
        y, x = lit[0]
        assert tuple(frame[y, x]) == (255, 255, 255)
        visited.append((int(x), int(y)))
    # Row by row across the whole chain: left to right, then the next row.
    assert visited == [(i % w, i // w) for i in range(w * h)]
    assert len(set(visited)) == w * h
    # Then it starts again at the top left.
    assert anim.position(w * h / speed) == (0, 0)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("w", "h"), GEOMETRIES)
def test_row_bars(w: int, h: int) -> None:
    frame = render("test_rows", w, h)
    for y in range(h):
        assert (frame[y] == BAR_COLOURS[y % 4]).all()
    sweep = render("test_rows", w, h, t=1.0, sweep=True, speed=5.0)
    lit_rows = np.flatnonzero(sweep.any(axis=(1, 2)))
    assert list(lit_rows) == [5 % h]
    assert (sweep[5 % h] == BAR_COLOURS[(5 % h) % 4]).all()


@pytest.mark.parametrize(("w", "h"), GEOMETRIES)
def test_column_bars(w: int, h: int) -> None:
    frame = render("test_columns", w, h)
    for x in range(w):
        assert (frame[:, x] == BAR_COLOURS[x % 4]).all()
    sweep = render("test_columns", w, h, t=2.0, sweep=True, speed=10.0)
    assert list(np.flatnonzero(sweep.any(axis=(0, 2)))) == [20 % w]


@pytest.mark.parametrize(("w", "h"), GEOMETRIES)
def test_gradient_per_channel(w: int, h: int) -> None:
    frame = render("test_gradient", w, h).astype(int)
    band_h = h // 4
    for band, channels in enumerate([(0,), (1,), (2,), (0, 1, 2)]):
        rows = frame[band * band_h:(band + 1) * band_h]
        assert (rows == rows[0]).all()  # every row of a band is the same ramp
        row = rows[0]
        for c in range(3):
            if c in channels:
                assert row[0, c] == 0 and row[-1, c] == 255
                assert (np.diff(row[:, c]) >= 0).all()
                # Evenly spaced: no channel value missing beyond the ramp's step.
                assert np.diff(row[:, c]).max() <= int(np.ceil(255 / (w - 1))) + 1
            else:
                assert not row[:, c].any()


def test_corner_markers_and_panel_numbers() -> None:
    # Two 64x32 panels chained, two parallel chains: panels 1 2 / 3 4.
    frame = render("test_corners", 128, 64, panel_width=64, panel_height=32)
    orange = np.array((255, 160, 0), np.uint8)
    for number, (px, py) in enumerate([(0, 0), (64, 0), (0, 32), (64, 32)], start=1):
        panel = frame[py:py + 32, px:px + 64]
        assert (panel[:2, :2] == (255, 0, 0)).all()
        assert (panel[:2, -2:] == (0, 255, 0)).all()
        assert (panel[-2:, :2] == (0, 0, 255)).all()
        assert (panel[-2:, -2:] == (255, 255, 255)).all()
        digits = (panel == orange).all(axis=2)
        expected = number_bitmap(number, scale=2)
        ys, xs = np.nonzero(digits)
        got = digits[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
        assert got.shape == expected.shape and (got == expected).all(), number


def test_corners_whole_frame_is_one_panel_by_default() -> None:
    frame = render("test_corners", 64, 32)
    assert (frame[-2:, -2:] == 255).all() and (frame[:2, 62:] == (0, 255, 0)).all()


@pytest.mark.parametrize("name", PATTERNS)
@pytest.mark.parametrize(("w", "h"), [(1, 1), (3, 2), (8, 8), (512, 192)])
def test_every_pattern_survives_odd_sizes(name: str, w: int, h: int) -> None:
    anim = REGISTRY.create(name, w, h, {})
    for t in (0.0, 0.5, 1234.5):
        out = FrameGuard(w, h)(anim.draw(t))
        assert out.shape == (h, w, 3) and out.dtype == np.uint8


# lightbox test-pattern ----------------------------------------------------------------------


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.now += s


def test_drive_cycles_every_pattern_and_says_what_to_look_for() -> None:
    cfg = DisplaySettings(driver="virtual", rows=32, cols=64, fps=10)
    display = VirtualDisplay(cfg.width, cfg.height)
    display.start()
    out = io.StringIO()
    ft = FakeTime()
    shown = testpattern.drive(display, cfg, list(PATTERNS), 2.0, out=out, clock=ft.clock,
                              sleep=ft.sleep)
    assert 20 * len(PATTERNS) <= shown <= 21 * len(PATTERNS)  # 2 s at 10 fps each (+float)
    text = out.getvalue()
    for name in PATTERNS:
        assert f"({name})" in text
    assert "[9/9] Test: panel corners and numbers" in text
    assert "led_rgb_sequence" in text and "multiplexing" in text


def test_walk_speed_covers_the_chain_in_the_given_time() -> None:
    cfg = DisplaySettings(rows=32, cols=64, chain_length=2)
    assert testpattern.pattern_params("test_walk", cfg, 8.0) == {"speed": 128 * 32 / 8.0}
    assert testpattern.pattern_params("test_corners", cfg, None) == {
        "panel_width": 64, "panel_height": 32}


def args(tmp_path: Path, **kw: Any) -> argparse.Namespace:
    settings = tmp_path / "settings.json"
    if not settings.exists():
        settings.write_text(json.dumps({"display": {"driver": "virtual", "fps": 50}}))
    base: dict[str, Any] = {"name": None, "settings": str(settings), "seconds": None,
                            "list": False}
    base.update(kw)
    return argparse.Namespace(**base)


def test_cli_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert testpattern.run(args(tmp_path, list=True)) == 0
    out = capsys.readouterr().out
    assert all(f"({n})" in out for n in PATTERNS)


def test_cli_runs_one_pattern_on_the_virtual_display(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert testpattern.run(args(tmp_path, name="test_red", seconds=0.1)) == 0
    out = capsys.readouterr().out
    assert "display: virtual 64x32" in out and "Test: solid red" in out


def test_cli_refuses_unknown_names_and_bad_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert testpattern.run(args(tmp_path, name="plasma")) == 2
    bad = tmp_path / "bad.json"
    bad.write_text('{"display": {"rows": 7}}')
    assert testpattern.run(args(tmp_path, name="test_red", settings=str(bad))) == 78
    assert "display.rows" in capsys.readouterr().err
    assert testpattern.run(args(tmp_path, name="test_red", seconds=-1)) == 2


def test_cli_reports_a_failing_display(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    fault = tmp_path / "fault"
    fault.write_text("panel unplugged")
    monkeypatch.setenv("LIGHTBOX_VIRTUAL_FAULT_FILE", str(fault))
    assert testpattern.run(args(tmp_path, name="test_red", seconds=0.1)) == 1
    assert "display failed: panel unplugged" in capsys.readouterr().err


def test_cli_parser_knows_the_subcommand() -> None:
    from appliance.cli import build_parser

    a = build_parser("test-pattern").parse_args(["test-pattern", "test_walk", "--seconds", "5"])
    assert a.name == "test_walk" and a.seconds == 5.0 and a.list is False
