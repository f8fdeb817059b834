"""The Unicode pixel fonts, the .lbf format and the shared text drawing (tests/unit)."""

from __future__ import annotations

import importlib.util
import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from animations.font import FONT_3X5, FONT_5X7, FONT_5X8, FONT_6X13, FONTS, Font, font_for_height
from animations.fonts import load, parse
from animations.textdraw import centre_y, draw_text, measure, paint, render_rgb, scroll_x

LATIN1 = [chr(c) for c in (*range(0x20, 0x7F), *range(0xA0, 0x100))]
SYMBOLS = list("°€£¥←→↑↓✓♥✗")
UNICODE_FONTS = [FONT_5X7, FONT_5X8, FONT_6X13]
BLANK = {" ", "\u00a0", "\u00ad"}  # space, no-break space, soft hyphen: blank by design


@pytest.mark.parametrize("font", UNICODE_FONTS, ids=lambda f: f.name)
def test_latin1_and_the_common_symbols_have_their_own_glyphs(font: Font) -> None:
    for ch in LATIN1 + SYMBOLS:
        g = font.glyph(ch)
        assert font.has_glyph(ch), f"{font.name} lacks {ch!r}"
        assert g.shape == (font.height, font.width) and g.dtype == bool
        assert not np.array_equal(g, font.box), f"{font.name} draws {ch!r} as the box"
        assert g.any() or ch in BLANK, f"{font.name} draws {ch!r} blank"
    # An accented letter is not its base letter (at 7 px some capitals share one accent).
    for family in ("AÀÄÅ", "aàáâãäå", "EÉ", "eé", "OÖ", "oö", "UÜ", "uü", "CÇ", "cç"):
        for ch in family[1:]:
            assert not np.array_equal(font.glyph(ch), font.glyph(family[0])), ch
    if font.height >= 12:
        letters = [font.glyph(ch).tobytes() for ch in "AÀÁÂÃÄÅaàáâãäåEÉeéOÖoöUÜuüßÇç"]
        assert len(set(letters)) == len(letters)


@pytest.mark.parametrize("font", [*UNICODE_FONTS, FONT_3X5], ids=lambda f: f.name)
@pytest.mark.parametrize("ch", ["\u4e00", "\U0010ffff", "\U0001f600", "\ud800", "\x00", "\x85"])
def test_an_unknown_code_point_draws_the_box(font: Font, ch: str) -> None:
    assert not font.has_glyph(ch)
    assert np.array_equal(font.glyph(ch), font.box)
    assert font.box.any() and not font.box.all()  # an outline, visible and not a block
    assert not np.array_equal(font.box, font.glyph("?"))


def test_the_3x5_font_upper_cases_and_never_shows_a_question_mark_for_a_missing_letter() -> None:
    assert np.array_equal(FONT_3X5.glyph("a"), FONT_3X5.glyph("A"))
    assert np.array_equal(FONT_3X5.glyph("Z"), FONT_3X5.box)


def test_the_5x7_font_keeps_its_lcd_ascii_and_falls_back_for_the_rest() -> None:
    assert FONT_5X7.glyph("A").tobytes() == FONT_5X7.glyphs["A"].tobytes()
    assert "é" not in FONT_5X7.glyphs and FONT_5X7.has_glyph("é")


def test_font_for_height_picks_the_tallest_cell_that_fits() -> None:
    assert font_for_height(32) is FONT_6X13 and font_for_height(13) is FONT_6X13
    assert font_for_height(12) is FONT_5X8 and font_for_height(8) is FONT_5X8
    assert font_for_height(7) is FONT_5X7 and font_for_height(5) is FONT_3X5
    assert font_for_height(0) is FONT_3X5
    assert [f.height for f in FONTS] == sorted((f.height for f in FONTS), reverse=True)


def test_render_and_measure_agree() -> None:
    for font in FONTS:
        bitmap = font.render("Grüße 21 °C", 2)
        assert bitmap.shape == measure("Grüße 21 °C", font, 2)[::-1]
        assert not bitmap.flags.writeable
    assert FONT_6X13.render("").shape == (13, 0)


def test_lbf_round_trips_through_the_converter(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "bdf_to_lbf", Path(__file__).parents[2] / "scripts" / "bdf_to_lbf.py")
    assert spec is not None and spec.loader is not None
    conv = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conv)
    bdf = "\n".join([
        "STARTFONT 2.1", "FONTBOUNDINGBOX 4 5 0 -1", "STARTCHAR A", "ENCODING 65", "BBX 3 3 1 0",
        "BITMAP", "40", "A0", "E0", "ENDCHAR", "STARTCHAR ctl", "ENCODING 7", "BBX 4 5 0 -1",
        "BITMAP", "F0", "F0", "F0", "F0", "F0", "ENDCHAR", "ENDFONT"])
    width, height, ascent, glyphs = conv.parse_bdf(bdf)
    assert (width, height, ascent, sorted(glyphs)) == (4, 5, 4, [65])  # the control is dropped
    data = parse(conv.encode(width, height, ascent, glyphs))
    assert data.glyphs["A"].astype(int).tolist() == [
        [0, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 1], [0, 1, 1, 1], [0, 0, 0, 0]]


SHIPPED_5X8 = (Path(__file__).parents[2] / "animations/fonts/5x8.lbf").read_bytes()


@pytest.mark.parametrize("junk", [b"", b"LBF1", b"XXXX" + SHIPPED_5X8[4:], SHIPPED_5X8[:-1],
                                  SHIPPED_5X8 + b"\0"])
def test_parse_rejects_what_is_not_an_lbf_file(junk: bytes) -> None:
    with pytest.raises(ValueError):
        parse(junk)


def test_the_shipped_files_load_with_their_cells() -> None:
    assert (load("5x8").width, load("5x8").height) == (5, 8)
    assert (load("6x13").width, load("6x13").height, load("6x13").ascent) == (6, 13, 11)
    assert len(load("6x13").glyphs) > 3000
    assert (Path(__file__).parents[2] / "animations/fonts/LICENSE-misc-fixed.txt").is_file()


# ---------------------------------------------------------------------- drawing
def test_centre_y_centres_in_a_band() -> None:
    assert centre_y(32, 13) == 9 and centre_y(16, 8, top=16) == 20 and centre_y(7, 7) == 0


def test_scroll_x_enters_from_the_right_and_loops() -> None:
    assert scroll_x(0.0, 10.0, 50, 64) == 64.0
    assert scroll_x(1.25, 10.0, 50, 64) == pytest.approx(51.5)
    assert scroll_x(114 / 10.0, 10.0, 50, 64) == pytest.approx(64.0)  # one period later
    xs = [scroll_x(t / 10, 10.0, 50, 64) for t in range(100)]
    assert all(b < a for a, b in itertools.pairwise(xs))  # monotone within a period
    assert scroll_x(math.inf, 10.0, 50, 64) == 64.0 and scroll_x(1.0, 10.0, 0, 0) == 0.0


def test_a_whole_pixel_position_paints_the_mask_exactly() -> None:
    mask = FONT_6X13.render("Hé")
    frame = np.zeros((13, 20, 3), np.uint8)
    paint(frame, mask, 3.0, 0, (200, 100, 50))
    assert np.array_equal(frame[:, 3:15].max(axis=2) > 0, mask)
    assert set(np.unique(frame)) == {0, 50, 100, 200}


def test_a_half_pixel_position_splits_the_ink_between_two_columns() -> None:
    mask = FONT_6X13.render("Hé")
    whole, half = np.zeros((13, 20, 3), np.uint8), np.zeros((13, 20, 3), np.uint8)
    paint(whole, mask, 3.0, 0, (200, 200, 200))
    paint(half, mask, 3.5, 0, (200, 200, 200))
    assert int(half.sum()) == pytest.approx(int(whole.sum()), rel=0.02)  # same ink
    cols = np.arange(20)
    centroid = [(f[..., 0].sum(axis=0) * cols).sum() / f[..., 0].sum() for f in (whole, half)]
    assert centroid[1] - centroid[0] == pytest.approx(0.5, abs=0.01)
    assert half.max() <= 200 and 100 in np.unique(half)


def test_paint_blends_over_what_is_there_and_fills_a_background() -> None:
    mask = np.ones((2, 2), bool)
    frame = np.full((2, 4, 3), 100, np.uint8)
    paint(frame, mask, 0.25, 0, (200, 200, 200), background=(0, 0, 0))
    assert frame[0, :, 0].tolist() == [150, 200, 50, 100]  # 3/4, full, 1/4 ink; untouched


def test_draw_text_centres_in_the_band_over_its_background() -> None:
    frame = np.zeros((32, 64, 3), np.uint8)
    width = draw_text(frame, "Hé ✓", FONT_6X13, 2.0, (16, 16), (255, 255, 255), (0, 0, 90))
    assert width == FONT_6X13.text_width("Hé ✓")
    assert not frame[:16].any() and (frame[16:, :, 2] >= 90).all()  # only the band
    ink = np.flatnonzero((frame[..., 0] == 255).any(axis=1))
    mask_rows = np.flatnonzero(FONT_6X13.render("Hé ✓").any(axis=1))
    assert ink.tolist() == (mask_rows + 17).tolist()  # 13 rows centred in 16: top at 17


def test_render_rgb_is_colour_on_background() -> None:
    img = render_rgb("✓", FONT_5X8, (0, 255, 0), (10, 10, 10))
    mask = FONT_5X8.render("✓")
    assert img.shape == (8, 5, 3) and img.dtype == np.uint8
    assert (img[mask] == (0, 255, 0)).all() and (img[~mask] == (10, 10, 10)).all()


colours = st.tuples(*[st.integers(0, 255)] * 3)


@settings(deadline=None, max_examples=80)
@given(text=st.text(st.characters(blacklist_categories=()), max_size=280),
       font=st.sampled_from(FONTS), colour=colours, background=st.none() | colours,
       x=st.floats(allow_nan=True, allow_infinity=True, width=32), y=st.integers(-40, 40),
       scale=st.integers(1, 3))
def test_any_text_any_colour_anywhere_gives_a_uint8_frame(
    text: str, font: Font, colour: tuple[int, int, int], background: tuple[int, int, int] | None,
    x: float, y: int, scale: int,
) -> None:
    mask = font.render(text, scale)
    assert mask.shape == measure(text, font, scale)[::-1]
    frame = np.zeros((32, 64, 3), np.uint8)
    paint(frame, mask, x, y, colour, background)
    paint(frame, mask, scroll_x(x if math.isfinite(x) else 0.0, 30.0, mask.shape[1], 64),
          centre_y(32, mask.shape[0]), colour)
    assert frame.dtype == np.uint8 and frame.shape == (32, 64, 3)
    img = render_rgb(text, font, colour, background or (0, 0, 0), scale)
    assert img.dtype == np.uint8 and img.shape == (*mask.shape, 3)
