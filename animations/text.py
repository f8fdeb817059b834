"""Text on the panel: a clock and scrolling text, drawn with the Unicode bitmap fonts.

Owns the clock and scrolling-text animations. The clock shows the time of day
of ``self.epoch_at_t0 + t`` in the time zone ``self.tz`` that the engine hands
in (None: the process's local zone); turning that number into fields is pure
computation, no clock is read, so both are pure functions of ``t``. Knows
nothing of the engine, MQTT, files, time zone databases or sleep.
"""

from __future__ import annotations

import time
from datetime import datetime, tzinfo
from typing import Any

import numpy as np

from animations.base import TIMES, Animation, Param, register
from animations.common import LUT_SIZE, finite_time, hue_lut, wrap
from animations.font import FONT_3X5, FONT_5X7, FONT_5X8, FONT_6X13, Font, blit
from animations.textdraw import centre_y, paint, scroll_x

# time.localtime accepts this range on every platform we run on (year 1970-9999); a day
# less leaves room for any zone's offset in datetime (which stops at year 9999).
_MAX_EPOCH_S = 253402300799.0 - 86400.0


def local_time(epoch: float, tz: tzinfo | None) -> time.struct_time:
    """Return the wall-clock fields of ``epoch`` in ``tz`` (None: the process's local zone)."""
    if tz is None:
        return time.localtime(epoch)
    return datetime.fromtimestamp(epoch, tz).timetuple()


def _fit(text: str, width: int, height: int, max_scale: int) -> tuple[Font, int] | None:
    """Return the biggest (font, scale) that fits ``text`` in width x height, or None."""
    for scale in range(max_scale, 0, -1):
        if FONT_5X7.text_width(text) * scale <= width and FONT_5X7.height * scale <= height:
            return FONT_5X7, scale
    if all(ch in FONT_3X5.glyphs for ch in text) and (
        FONT_3X5.text_width(text) <= width and FONT_3X5.height <= height
    ):
        return FONT_3X5, 1
    return None


@register
class Clock(Animation):
    """A digital clock (local time), with optional seconds and date."""

    name = "clock"
    title = "Clock"
    group = "Clock & text"
    description = "The time of day in big digits, with the date underneath when there is room."
    params = (
        Param("color", "color", "#ffa030", help="Colour of the digits", title="Digit colour"),
        Param("hour_format", "choice", "24h", choices=("24h", "12h"), help="24-hour or 12-hour"),
        Param("show_seconds", "bool", True, help="Show seconds when they fit"),
        Param("show_date", "bool", True, help="Show the date under the time when it fits"),
        Param("blink_colon", "bool", False, help="Blink the colon once a second"),
    )

    def setup(self) -> None:
        self._out = np.zeros((self.height, self.width, 3), np.uint8)
        self._key: tuple[Any, ...] | None = None

    def configure(self) -> None:
        """The next frame is redrawn."""
        self._key = None

    def _layout(
        self, lt: time.struct_time, colon: str
    ) -> tuple[list[tuple[str, Font, int, float]], bool]:
        """Return the lines to draw and whether a seconds bar should go under the time."""
        w, h = self.width, self.height
        if self.p["hour_format"] == "12h":
            hours = f"{(lt.tm_hour % 12) or 12:d}"
        else:
            hours = f"{lt.tm_hour:02d}"
        short = f"{hours}{colon}{lt.tm_min:02d}"
        candidates = [short]
        if self.p["show_seconds"]:
            candidates.insert(0, f"{short}{colon}{lt.tm_sec:02d}")
        # The biggest digits win; with equal size, the version with seconds.
        main: tuple[str, Font, int] | None = None
        for text in candidates:
            fit = _fit(text, w, h, max_scale=6)
            if fit is None:
                continue
            if main is None or fit[0].height * fit[1] > main[1].height * main[2]:
                main = (text, *fit)
        if main is None:
            # Too small for anything: show what we can of the tiny font, centred and clipped.
            main = (short, FONT_3X5, 1)
        lines = [(main[0], main[1], main[2], 1.0)]
        # Seconds that did not fit as digits become a thin bar under the time.
        digits_h = main[1].height * main[2]
        bar = bool(self.p["show_seconds"]) and main[0] == short and h >= digits_h + 2
        if self.p["show_date"]:
            room = h - main[1].height * main[2] - 2 - (2 if bar else 0)
            for text in (
                time.strftime("%a %d %b", lt),
                time.strftime("%d %b", lt),
                time.strftime("%d/%m", lt),
            ):
                fit = _fit(text, w, room, max_scale=max(1, main[2] // 2))
                if fit is not None:
                    lines.append((text, *fit, 0.6))
                    break
        return lines, bar

    def draw(self, t: float) -> np.ndarray:
        t = finite_time(t)
        epoch = min(max(self.epoch_at_t0 + t, 0.0), _MAX_EPOCH_S)
        lt = local_time(epoch, self.tz)
        colon = " " if self.p["blink_colon"] and epoch % 1.0 >= 0.5 else ":"
        key = (lt.tm_year, lt.tm_yday, lt.tm_hour, lt.tm_min, lt.tm_sec, colon)
        if key == self._key:
            return self._out
        self._key = key
        out = self._out
        out.fill(0)
        lines, bar = self._layout(lt, colon)
        gap = 2
        total = sum(f.height * s for _, f, s, _ in lines) + gap * (len(lines) - 1)
        total += 2 if bar else 0
        y = centre_y(self.height, total)
        colour = np.asarray(self.p["color"], np.float32)
        for i, (text, font, scale, level) in enumerate(lines):
            bitmap = font.render(text, scale)
            x = (self.width - bitmap.shape[1]) // 2
            blit(out, bitmap, x, y, (colour * level).astype(np.uint8))
            y += bitmap.shape[0] + gap
            if i == 0 and bar:
                # One LED row under the digits, filling up over the minute.
                left = x
                length = round(bitmap.shape[1] * (lt.tm_sec + 1) / 60)
                out[y - 1, max(left, 0) : max(left + length, 0)] = (colour * 0.5).astype(np.uint8)
                y += 2
        return out


@register
class ScrollingText(Animation):
    """A message scrolling right to left, in one colour or a rainbow."""

    name = "text"
    title = "Scrolling text"
    group = "Clock & text"
    description = "Your message scrolling across the panel like a ticker."
    params = (
        Param("text", "string", "Hello from LightBox!", max_length=64,
              help="The message to scroll (letters without a glyph show as a box)"),
        Param("color", "color", "#ffffff", help="Text colour", title="Text colour"),
        Param("background", "color", "#000000", help="Background colour"),
        Param("speed", "float", 30.0, min=2.0, max=150.0, help="Scroll speed in pixels per second",
              title="Scroll speed", unit="px/s"),
        Param("size", "int", 0, min=0, max=8,
              help="Letter size in LEDs per font pixel; 0 picks the biggest that fits",
              title="Letter size", unit=TIMES),
        Param("rainbow", "bool", False, help="Colour the letters with a moving rainbow"),
    )

    def setup(self) -> None:
        self._out = np.empty((self.height, self.width, 3), np.uint8)
        self._rainbow = hue_lut(1.0, 1.0)
        self.configure()


    def configure(self) -> None:
        font, size = _text_font(self.height, self.p["size"])
        self._bitmap = font.render(self.p["text"], size)
        bh, bw = self._bitmap.shape
        # Hue-table units per column: a full rainbow every 64 columns.
        self._cols = np.arange(bw, dtype=np.float32) * np.float32(LUT_SIZE / 64)
        self._cols_buf = np.empty(bw, np.float32)
        self._col_idx = np.empty(bw, np.intp)
        self._col_rgb = np.empty((bw, 3), np.uint8)
        self._y = centre_y(self.height, bh)

    def draw(self, t: float) -> np.ndarray:
        t = finite_time(t)
        out = self._out
        out[...] = self.p["background"]
        bitmap = self._bitmap
        if bitmap.shape[1] == 0:
            return out
        # A float position: painted with sub-pixel interpolation, so slow scrolls glide.
        x = scroll_x(t, self.p["speed"], bitmap.shape[1], self.width)
        if self.p["rainbow"]:
            np.add(self._cols, np.float32(wrap(t * 0.4, 1.0) * LUT_SIZE), out=self._cols_buf)
            np.copyto(self._col_idx, self._cols_buf, casting="unsafe")
            np.take(self._rainbow, self._col_idx, axis=0, out=self._col_rgb, mode="wrap")
            colours = np.broadcast_to(self._col_rgb, (*bitmap.shape, 3))
            paint(out, bitmap, x, self._y, colours)
        else:
            paint(out, bitmap, x, self._y, self.p["color"])
        return out


def _text_font(height: int, size: int) -> tuple[Font, int]:
    """Return the (font, scale) of scrolling text: ``size`` given, the 5x7 font scaled.

    Size 0 picks by panel height: 6x13 (scaled x2 from 48 rows, x3 from 80, x4 from 112)
    on 16 rows and more, 5x8 on 8-15 rows, 5x7 below.
    """
    if size:
        return FONT_5X7, size
    if height >= 16:
        return FONT_6X13, max(1, min((height + 16) // 32, 4))
    return (FONT_5X8, 1) if height >= 8 else (FONT_5X7, 1)
