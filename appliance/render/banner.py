"""How one notification looks on the panel: a banner band or the full screen, text and icon.

Owns the geometry (a band a third of the panel high, at least one font line, at the
bottom; or the whole panel), the text bitmap (a character the font lacks is a visible
box, never an error), vertical centring, smooth sub-pixel scrolling of text wider
than its room (its position comes from the time shown, not from frames counted),
colours and the icon left of the text. Draws into a frame it is given; pixels outside
the band are never touched. Text is painted by ``animations.textdraw`` (the sub-pixel
painter every text on the panel shares). Knows nothing of the queue, MQTT or commands.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from animations.font import FONT_5X7, FONT_6X13, Font, clip
from animations.textdraw import centre_y, paint

Rgb = tuple[int, int, int]
#: Slowest scroll, in pixels a second, so a line a little too wide does not crawl.
MIN_SCROLL_PX_S = 16.0
#: Scroll speed of a held notification (it has no duration to fit a pass into).
HELD_SCROLL_PX_S = 20.0


def hex_rgb(colour: str) -> Rgb:
    """``#rrggbb`` as a tuple of three 0-255 ints."""
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


@dataclass(frozen=True, eq=False)
class Look:
    """What a notification looks like: colours, position and its icon (RGBA, or None)."""

    color: Rgb = (255, 255, 255)
    background: Rgb | None = None
    position: Literal["banner", "fullscreen"] = "banner"
    icon: np.ndarray | None = None


def text_bitmap(font: Font, text: str, scale: int = 1) -> np.ndarray:
    """``text`` as a (height, width) bool bitmap; a character no font has is the font's box."""
    return font.render(text, max(1, scale))


def pick_font(rows: int) -> Font:
    """The font for a band of ``rows``: 6x13 (wide Unicode cover) when it fits, else 5x7."""
    return FONT_6X13 if rows - 2 >= FONT_6X13.height else FONT_5X7


def band_rows(height: int, font: Font, position: str) -> tuple[int, int]:
    """The band's first row and its height: the bottom third (at least a line of ``font``
    and a row above and below it), or all of the panel."""
    if position == "fullscreen":
        return 0, height
    rows = min(height, max(font.height + 2, height // 3))
    return height - rows, rows


class Banner:
    """One notification prepared for drawing (its bitmaps are made once, when it shows)."""

    def __init__(self, text: str, look: Look, width: int, height: int,
                 duration_s: float | None, font: Font | None = None) -> None:
        self.look = look
        self.width = width
        self.duration_s = duration_s
        self.y0, self.rows = band_rows(height, FONT_5X7, look.position)
        font = font or pick_font(self.rows)
        lines = 2 if look.position == "fullscreen" else 1
        scale = max(1, (self.rows - 2) // (font.height * lines))
        self.bitmap = text_bitmap(font, text, scale)
        self.icon = _fit_icon(look.icon, self.rows, width)
        self.x0 = 0 if self.icon is None else self.icon.shape[1] + 2
        self.room = max(1, width - self.x0)
        self.ty = centre_y(self.rows, self.bitmap.shape[0])

    @property
    def scrolls(self) -> bool:
        """True when the text is wider than its room."""
        return self.bitmap.shape[1] > self.room

    def text_x(self, elapsed: float) -> float:
        """Left edge of the text (from the room's left) after ``elapsed`` seconds.

        A text that fits is centred. A wider one starts at the room's left edge (readable
        at once), moves left so that it has passed once in its duration (never slower
        than ``MIN_SCROLL_PX_S``), then comes in again from the right.
        """
        tw = self.bitmap.shape[1]
        if not self.scrolls:
            return float((self.room - tw) // 2)
        speed = HELD_SCROLL_PX_S if self.duration_s is None else \
            max(MIN_SCROLL_PX_S, tw / self.duration_s)
        return self.room - (elapsed * speed + self.room) % (self.room + tw)

    def draw(self, frame: np.ndarray, elapsed: float) -> None:
        """Paint the notification into ``frame`` (H, W, 3 uint8), ``elapsed`` s after it began."""
        band = frame[self.y0 : self.y0 + self.rows]
        if self.look.background is not None:
            band[...] = self.look.background
        if self.icon is not None:
            _paint_rgba(band, self.icon, 1, (self.rows - self.icon.shape[0]) // 2)
        paint(band[:, self.x0 :], self.bitmap, self.text_x(elapsed), self.ty, self.look.color)


def _fit_icon(icon: np.ndarray | None, rows: int, width: int) -> np.ndarray | None:
    """The icon cut to the band (an icon taller than the band shows its middle)."""
    if icon is None or icon.ndim != 3 or icon.shape[2] != 4 or width < 2 * icon.shape[1]:
        return None
    if icon.shape[0] > rows:
        top = (icon.shape[0] - rows) // 2
        icon = icon[top : top + rows]
    return icon


def _paint_rgba(frame: np.ndarray, rgba: np.ndarray, x: int, y: int) -> None:
    part = clip(frame.shape, rgba.shape, x, y)
    if part is None:
        return
    inside, of_icon = part
    src = rgba[of_icon].astype(np.float32)
    alpha = src[..., 3:4] / 255.0
    dst = frame[inside]
    dst[...] = (dst * (1.0 - alpha) + src[..., :3] * alpha).astype(np.uint8)
