"""Test patterns for bringing up a panel: wiring, colour order, chain, multiplexing, PWM.

Each pattern's ``description`` says what to look for and which display setting
fixes which symptom (``lightbox test-pattern`` prints it). Pure drawing like
every animation: a function of ``t`` and the parameters. Panel geometry comes
from the ``panel_width``/``panel_height`` parameters (0: the whole frame is
one panel); ``lightbox test-pattern`` fills them in from the settings.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from animations.base import Animation, Colour, Param, register

CATEGORY = "test"
#: Bars cycle through these so neighbouring rows and columns always differ.
BAR_COLOURS = np.array([(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)], np.uint8)
#: Corner markers: top-left red, top-right green, bottom-left blue, bottom-right white.
CORNER_COLOURS: dict[str, Colour] = {
    "tl": (255, 0, 0), "tr": (0, 255, 0), "bl": (0, 0, 255), "br": (255, 255, 255),
}

# 3x5 digits, rows top to bottom, used to number the panels.
_DIGITS = {
    "0": ("111", "101", "101", "101", "111"), "1": ("010", "110", "010", "010", "111"),
    "2": ("111", "001", "111", "100", "111"), "3": ("111", "001", "111", "001", "111"),
    "4": ("101", "101", "111", "001", "001"), "5": ("111", "100", "111", "001", "111"),
    "6": ("111", "100", "111", "101", "111"), "7": ("111", "001", "010", "010", "010"),
    "8": ("111", "101", "111", "101", "111"), "9": ("111", "101", "111", "001", "111"),
}
DIGIT_BITMAPS = {
    d: np.array([[c == "1" for c in row] for row in rows], bool) for d, rows in _DIGITS.items()
}


def number_bitmap(n: int, scale: int = 1) -> np.ndarray:
    """Return ``n`` as a (5*scale, (4*digits-1)*scale) bool bitmap in a 3x5 font."""
    glyphs = [DIGIT_BITMAPS[d] for d in str(n)]
    gap = np.zeros((5, 1), bool)
    parts: list[np.ndarray] = []
    for i, g in enumerate(glyphs):
        if i:
            parts.append(gap)
        parts.append(g)
    out = np.concatenate(parts, axis=1)
    if scale > 1:
        out = np.repeat(np.repeat(out, scale, axis=0), scale, axis=1)
    return out


def _panel_params() -> tuple[Param, Param]:
    return (
        Param("panel_width", "int", 0, min=0, max=512,
              help="Pixels across one panel (display.cols); 0: the whole frame",
              title="Panel width", unit="px"),
        Param("panel_height", "int", 0, min=0, max=192,
              help="Pixels down one panel (display.rows); 0: the whole frame",
              title="Panel height", unit="px"),
    )


class _Pattern(Animation):
    category: ClassVar[str] = CATEGORY

    def setup(self) -> None:
        self._buf = np.zeros((self.height, self.width, 3), np.uint8)

    def panel_size(self) -> tuple[int, int]:
        """Return (width, height) of one panel, clamped to the frame."""
        pw = int(self.p.get("panel_width", 0)) or self.width
        ph = int(self.p.get("panel_height", 0)) or self.height
        return max(1, min(pw, self.width)), max(1, min(ph, self.height))


class _Solid(_Pattern):
    colour: ClassVar[Colour] = (0, 0, 0)
    params = (Param("level", "int", 255, min=1, max=255,
                    help="Channel level; lower it when the supply is small", title="Level"),)

    def draw(self, t: float) -> np.ndarray:
        level = self.p["level"]
        self._buf[...] = [c * level // 255 for c in self.colour]
        return self._buf


_SOLID_TAIL = (
    " Every pixel must light in this one colour, with no dark, flickering or off-colour "
    "pixels. Wrong colour: set display.led_rgb_sequence to the order you see (red shows blue "
    "and blue shows red: BGR; green and blue swapped: RBG). Colour right on the first panel "
    "but wrong further down the chain: a loose ribbon cable. Dims or flickers when all LEDs "
    "are on: the panel's 5 V supply is too weak (about 4 A per 64x32 panel at full white); "
    "lower level or display.brightness meanwhile."
)


@register
class RedPattern(_Solid):
    """Solid red."""

    name = "test_red"
    title = "Test: solid red"
    colour = (255, 0, 0)
    description = "All pixels pure red (R only)." + _SOLID_TAIL


@register
class GreenPattern(_Solid):
    """Solid green."""

    name = "test_green"
    title = "Test: solid green"
    colour = (0, 255, 0)
    description = "All pixels pure green (G only)." + _SOLID_TAIL


@register
class BluePattern(_Solid):
    """Solid blue."""

    name = "test_blue"
    title = "Test: solid blue"
    colour = (0, 0, 255)
    description = "All pixels pure blue (B only)." + _SOLID_TAIL


@register
class WhitePattern(_Solid):
    """Solid white: all three channels, the largest current draw."""

    name = "test_white"
    title = "Test: solid white"
    colour = (255, 255, 255)
    description = (
        "All pixels white: the heaviest load on the supply. A pink, yellow or cyan tint means "
        "one colour is weak or missing on the cable or the supply sags."
    ) + _SOLID_TAIL


@register
class WalkPattern(_Pattern):
    """One white pixel visiting every position of the whole chain once, row by row."""

    name = "test_walk"
    title = "Test: walking pixel"
    description = (
        "A single white pixel walks left to right along the top row of the WHOLE chain "
        "(through every chained panel in turn), then the next row, to the bottom right, then "
        "starts again. Exactly one LED may be lit at a time. Pixel jumps to the wrong panel or "
        "panels light in the wrong order: fix display.chain_length and display.parallel, or "
        "set display.pixel_mapper_config (U-mapper for a folded chain, Rotate:180 for upside "
        "down panels). Two or more LEDs lit at once, or rows out of order: set "
        "display.multiplexing (try 1 to 18) or display.row_address_type. Nothing lights on "
        "the lower half: display.rows is set too small."
    )
    params = (
        Param("speed", "float", 60.0, min=1.0, max=5000.0, help="Positions per second",
              title="Speed", unit="px/s"),
    )

    def position(self, t: float) -> tuple[int, int]:
        """Return (x, y) of the lit pixel at time ``t``."""
        n = self.width * self.height
        i = math.floor(t * self.p["speed"] + 1e-6) % n
        return i % self.width, i // self.width

    def draw(self, t: float) -> np.ndarray:
        self._buf[...] = 0
        x, y = self.position(max(0.0, t))
        self._buf[y, x] = 255
        return self._buf


class _Bars(_Pattern):
    axis: ClassVar[int] = 0  # 0: rows (horizontal bars), 1: columns

    params = (
        Param("sweep", "bool", False,
              help="Light one line at a time, moving, instead of all bars", title="Sweep"),
        Param("speed", "float", 8.0, min=0.5, max=500.0, help="Lines per second when sweeping",
              title="Speed", unit="lines/s"),
    )

    def draw(self, t: float) -> np.ndarray:
        n = self.height if self.axis == 0 else self.width
        colours = BAR_COLOURS[np.arange(n) % len(BAR_COLOURS)]
        if self.p["sweep"]:
            lit = math.floor(max(0.0, t) * self.p["speed"] + 1e-6) % n
            mask = np.zeros(n, bool)
            mask[lit] = True
            colours = colours * mask[:, None]
        if self.axis == 0:
            self._buf[...] = colours[:, None, :]
        else:
            self._buf[...] = colours[None, :, :]
        return self._buf


@register
class RowBarsPattern(_Bars):
    """Horizontal one-pixel bars: red, green, blue, white from the top."""

    name = "test_rows"
    title = "Test: row bars"
    axis = 0
    description = (
        "One-pixel horizontal bars repeating red, green, blue, white from the top row down "
        "(sweep: one row at a time, moving down). Every row must appear exactly once, in "
        "order. The same rows repeat in the top and bottom half, or a sweeping line lights "
        "two rows at once: the panel multiplexes differently, set display.multiplexing and "
        "display.row_address_type (1 for many 64x64 panels). Rows shifted by a few lines or "
        "the pattern garbled: raise display.gpio_slowdown (4 on a Pi 4). Bottom half dark: "
        "display.rows too small (a 64-row panel needs rows 64, and the E address line "
        "connected)."
    )


@register
class ColumnBarsPattern(_Bars):
    """Vertical one-pixel bars: red, green, blue, white from the left."""

    name = "test_columns"
    title = "Test: column bars"
    axis = 1
    description = (
        "One-pixel vertical bars repeating red, green, blue, white from the left edge of the "
        "whole chain (sweep: one column at a time, moving right). Every column must appear "
        "once, in order, across all panels. Columns in blocks of 8 or 16 out of order: set "
        "display.multiplexing. Right part of a panel dark or copied: display.cols wrong. "
        "Ghost copies of a bar on the next column: raise display.gpio_slowdown; faint ghost "
        "rows: raise display.pwm_lsb_nanoseconds (e.g. 200)."
    )


@register
class GradientPattern(_Pattern):
    """Four bands ramping from black to full red, green, blue and white, left to right."""

    name = "test_gradient"
    title = "Test: gradient per channel"
    description = (
        "Four horizontal bands (red, green, blue, white from the top), each a smooth ramp "
        "from black on the left to full on the right across the whole chain. Each ramp must "
        "brighten evenly with no jumps. Visible steps at the dark end: raise display.pwm_bits "
        "(11 is best) or set display.pwm_dither_bits 1. A band with stripes or sudden jumps "
        "at the same places: a dead colour bit (bad ribbon cable or connector) on that "
        "channel. Flicker in the dark part: lower pwm_bits or raise "
        "display.limit_refresh_rate_hz, or set isolcpus (see lightbox diagnose)."
    )
    params = ()

    def draw(self, t: float) -> np.ndarray:
        w, h = self.width, self.height
        ramp = np.round(np.arange(w) * (255.0 / max(1, w - 1))).astype(np.uint8)
        bands = np.array([(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 1)], np.uint8)
        band_of_row = np.minimum(np.arange(h) * 4 // max(1, h), 3)
        self._buf[...] = ramp[None, :, None] * bands[band_of_row][:, None, :]
        return self._buf


@register
class CornersPattern(_Pattern):
    """Each panel outlined, coloured corner markers and its number in the middle."""

    name = "test_corners"
    title = "Test: panel corners and numbers"
    description = (
        "Every panel gets a dim outline, a 2x2 marker in each corner (top-left red, top-right "
        "green, bottom-left blue, bottom-right white) and its number in the middle: 1 is the "
        "panel nearest the Pi, counting along the chain, then the next parallel chain. "
        "Numbers out of order: fix the cabling or display.chain_length/parallel, or set "
        "display.pixel_mapper_config (U-mapper when the chain snakes back). Red marker at "
        "the bottom right: that panel is upside down (Rotate:180 or turn it). Markers cut in "
        "half or outlines inside a panel: display.rows/cols do not match the panel."
    )
    params = _panel_params()

    def draw(self, t: float) -> np.ndarray:
        buf = self._buf
        buf[...] = 0
        pw, ph = self.panel_size()
        across = max(1, self.width // pw)
        down = max(1, self.height // ph)
        number = 0
        for py in range(down):
            for px in range(across):
                number += 1
                self._panel(buf, px * pw, py * ph, pw, ph, number)
        return buf

    def _panel(self, buf: np.ndarray, x0: int, y0: int, w: int, h: int, number: int) -> None:
        region = buf[y0:y0 + h, x0:x0 + w]
        outline = (48, 48, 48)
        region[0, :] = outline
        region[-1, :] = outline
        region[:, 0] = outline
        region[:, -1] = outline
        m = 2 if w >= 4 and h >= 4 else 1
        region[:m, :m] = CORNER_COLOURS["tl"]
        region[:m, w - m:] = CORNER_COLOURS["tr"]
        region[h - m:, :m] = CORNER_COLOURS["bl"]
        region[h - m:, w - m:] = CORNER_COLOURS["br"]
        bitmap = number_bitmap(number, scale=2 if w >= 32 and h >= 16 else 1)
        bh, bw = bitmap.shape
        if bh + 2 <= h and bw + 2 <= w:
            top, left = (h - bh) // 2, (w - bw) // 2
            region[top:top + bh, left:left + bw][bitmap] = (255, 160, 0)


#: Every pattern in the order `lightbox test-pattern` cycles through them.
PATTERNS = ("test_red", "test_green", "test_blue", "test_white", "test_walk", "test_rows",
            "test_columns", "test_gradient", "test_corners")
