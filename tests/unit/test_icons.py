"""The built-in icons: every name at both drawn sizes, the API's None cases, the PNGs on disk."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from appliance.content import icons

EXPECTED = {"info", "warning", "door", "bell", "thermometer", "drop", "sun", "moon", "check",
            "cross", "mail", "phone"}


def test_names_lists_the_built_in_set() -> None:
    assert set(icons.names()) == EXPECTED
    assert icons.names() == sorted(icons.names())
    icons.names().clear()  # a caller's list is its own
    assert set(icons.names()) == EXPECTED


@pytest.mark.parametrize("size", icons.SIZES)
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_icon_has_the_right_shape_and_is_not_empty(name: str, size: int) -> None:
    pixels = icons.icon(name, size)
    assert pixels is not None
    assert pixels.shape == (size, size, 3) and pixels.dtype == np.uint8
    lit = pixels.max(axis=2) > 0
    assert size <= lit.sum() < size * size  # drawn on a background, not a blank or full square
    assert not pixels.flags.writeable  # the cache cannot be scribbled on


def test_the_drawn_sizes_differ_and_other_sizes_scale() -> None:
    small, big = icons.icon("bell", 8), icons.icon("bell", 16)
    assert small is not None and big is not None
    assert not np.array_equal(np.repeat(np.repeat(small, 2, 0), 2, 1), big)  # drawn, not scaled
    scaled = icons.icon("bell", 24)
    assert scaled is not None and scaled.shape == (24, 24, 3)
    assert icons.icon("bell", 16) is big  # cached


@pytest.mark.parametrize("name", ["", "nope", "Sun", "../sun", "sun-8", "sun.png"])
def test_an_unknown_name_is_none(name: str) -> None:
    assert icons.icon(name, 8) is None


@pytest.mark.parametrize("size", [0, -8, icons.MAX_SIZE + 1, True])
def test_a_size_out_of_range_is_none(size: int) -> None:
    assert icons.icon("sun", size) is None


def test_the_pngs_match_the_grids_of_the_drawing_script(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "make_icons", Path(__file__).parents[2] / "scripts" / "make_icons.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    script.main(str(tmp_path))
    for name in EXPECTED:
        for size in icons.SIZES:
            committed = icons.icon(name, size)
            with Image.open(tmp_path / f"{name}-{size}.png") as fresh:
                assert np.array_equal(np.asarray(fresh.convert("RGB")), committed)
