"""Bitmap fonts as numpy arrays: Unicode pixel fonts for the panel, and a 3x5 digit font.

Owns the glyph tables and turning text into boolean bitmaps (cached). The fonts:

- ``FONT_5X7``: the classic 5x7 LCD font for printable ASCII, falling back to the
  public-domain X11 misc-fixed 5x7 for the rest of Unicode (Latin-1, Latin Extended,
  Greek, Cyrillic, arrows, symbols...): 7 px bands.
- ``FONT_5X8``: misc-fixed 5x8 (real descenders): 8 px bands.
- ``FONT_6X13``: misc-fixed 6x13, the best-covered misc-fixed cell (3 000+ characters):
  12-16 px bands.
- ``FONT_3X5``: digits and a few signs for tiny panels.

A character no font in a chain has draws as the font's box (an outline of the cell),
never an error and never '?'. Pure computation (the font files load once at import, a
few milliseconds): knows nothing of animations' parameters, the engine or other I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from animations.fonts import load

# The classic 5x7 LCD font, printable ASCII 0x20-0x7E: five column bytes per
# glyph, bit 0 is the top row.
_COLUMNS_5X7 = bytes.fromhex(
    "0000000000" "00005f0000" "0007000700" "147f147f14" "242a7f2a12"  # space ! " # $
    "2313086462" "3649552250" "0005030000" "001c224100" "0041221c00"  # % & ' ( )
    "142a1c2a14" "08083e0808" "0050300000" "0808080808" "0060600000"  # * + , - .
    "2010080402" "3e5149453e" "00427f4000" "4261514946" "2141454b31"  # / 0 1 2 3
    "1814127f10" "2745454539" "3c4a494930" "0171090503" "3649494936"  # 4 5 6 7 8
    "064949291e" "0036360000" "0056360000" "0814224100" "1414141414"  # 9 : ; < =
    "0041221408" "0201510906" "324979413e" "7e1111117e" "7f49494936"  # > ? @ A B
    "3e41414122" "7f4141221c" "7f49494941" "7f09090101" "3e41415132"  # C D E F G
    "7f0808087f" "00417f4100" "2040413f01" "7f08142241" "7f40404040"  # H I J K L
    "7f020c027f" "7f0408107f" "3e4141413e" "7f09090906" "3e4151215e"  # M N O P Q
    "7f09192946" "4649494931" "01017f0101" "3f4040403f" "1f2040201f"  # R S T U V
    "3f4038403f" "6314081463" "0708700807" "6151494543" "007f414100"  # W X Y Z [
    "0204081020" "0041417f00" "0402010204" "4040404040" "0001020400"  # \ ] ^ _ `
    "2054545478" "7f48444438" "3844444420" "384444487f" "3854545418"  # a b c d e
    "087e090102" "0c5252523e" "7f08040478" "00447d4000" "2040443d00"  # f g h i j
    "007f102844" "00417f4000" "7c04180478" "7c08040478" "3844444438"  # k l m n o
    "7c14141408" "081414187c" "7c08040408" "4854545420" "043f444020"  # p q r s t
    "3c4040207c" "1c2040201c" "3c4030403c" "4428102844" "0c5050503c"  # u v w x y
    "4464544c44" "0008364100" "00007f0000" "0041360800" "0804081008"  # z { | } ~
)

# A 3x5 font for digits, colon, space and a few signs: three column bytes per
# glyph, bit 0 is the top row.
_GLYPHS_3X5: dict[str, str] = {
    "0": "1f111f", "1": "121f10", "2": "1d1517", "3": "11151f", "4": "07041f",
    "5": "171519", "6": "1f151d", "7": "01011f", "8": "1f151f", "9": "17151f",
    ":": "000a00", " ": "000000", "-": "040404", ".": "001000", "/": "180403",
    "A": "1e051e", "P": "1f0507", "M": "1f021f",
}


@dataclass(frozen=True, eq=False)
class Font:
    """A fixed-width bitmap font: ``glyphs`` maps a character to a (height, width) bool array.

    ``fallback`` (same cell size) supplies what ``glyphs`` lacks; ``ascent`` is the number
    of rows above the baseline (the rest are for descenders).
    """

    name: str
    width: int
    height: int
    spacing: int
    glyphs: Mapping[str, np.ndarray]
    fallback: Font | None = None
    ascent: int = 0

    def find(self, ch: str) -> np.ndarray | None:
        """Return the font's own bitmap for ``ch`` (this font, then its fallbacks), or None."""
        font: Font | None = self
        while font is not None:
            g = font.glyphs.get(ch)
            if g is not None:
                return g
            font = font.fallback
        return None

    def has_glyph(self, ch: str) -> bool:
        """Whether ``ch`` draws with a glyph of its own (not the box, not upper-cased)."""
        return self.find(ch) is not None

    @cached_property
    def box(self) -> np.ndarray:
        """The glyph of a missing character: the outline of the inked part of the cell."""
        w = self.width - (1 if self.spacing == 0 and self.width > 2 else 0)
        h = (self.ascent or self.height) if self.height > 3 else self.height
        box = np.zeros((self.height, self.width), bool)
        box[:h, :w] = True
        if h > 2 and w > 2:
            box[1 : h - 1, 1 : w - 1] = False
        box.flags.writeable = False
        return box

    def glyph(self, ch: str) -> np.ndarray:
        """Return the bitmap for ``ch`` (upper-cased if missing, else the box)."""
        g = self.find(ch)
        if g is None and ch.upper() != ch and len(ch.upper()) == 1:
            g = self.find(ch.upper())
        return self.box if g is None else g

    def text_width(self, text: str) -> int:
        """Return the width in pixels of ``text`` without trailing spacing."""
        return max(0, len(text) * (self.width + self.spacing) - self.spacing)

    def render(self, text: str, scale: int = 1) -> np.ndarray:
        """Return ``text`` as a read-only (height*scale, width*scale) bool bitmap (cached)."""
        return _render(self, text, max(1, scale))


def _from_columns(cols: bytes, height: int) -> np.ndarray:
    arr = np.frombuffer(cols, np.uint8)
    bits = (arr[None, :] >> np.arange(height, dtype=np.uint8)[:, None]) & 1
    return np.ascontiguousarray(bits.astype(bool))


def _build_5x7() -> Font:
    glyphs = {
        chr(0x20 + i): _from_columns(_COLUMNS_5X7[i * 5 : i * 5 + 5], 7)
        for i in range(len(_COLUMNS_5X7) // 5)
    }
    return Font("5x7", 5, 7, 1, glyphs, fallback=_load("5x7"), ascent=7)


def _build_3x5() -> Font:
    glyphs = {ch: _from_columns(bytes.fromhex(h), 5) for ch, h in _GLYPHS_3X5.items()}
    glyphs["?"] = _from_columns(bytes.fromhex("011506"), 5)
    return Font("3x5", 3, 5, 1, glyphs)


def _load(name: str) -> Font:
    data = load(name)
    return Font(name, data.width, data.height, 0, data.glyphs, ascent=data.ascent)


FONT_5X8 = _load("5x8")
FONT_6X13 = _load("6x13")
FONT_5X7 = _build_5x7()
FONT_3X5 = _build_3x5()
#: Every font, for choosing one by height (see ``font_for_height``).
FONTS = (FONT_6X13, FONT_5X8, FONT_5X7, FONT_3X5)


def font_for_height(height: int) -> Font:
    """Return the tallest font whose cell fits in ``height`` rows (the 3x5 font when none does)."""
    for font in FONTS:
        if font.height <= height:
            return font
    return FONT_3X5


@lru_cache(maxsize=64)
def _render(font: Font, text: str, scale: int) -> np.ndarray:
    step = font.width + font.spacing
    out = np.zeros((font.height, font.text_width(text)), bool)
    glyphs: dict[str, np.ndarray] = {}
    for i, ch in enumerate(text):
        g = glyphs.get(ch)
        if g is None:
            g = glyphs[ch] = font.glyph(ch)
        out[:, i * step : i * step + font.width] = g
    if scale > 1:
        out = np.repeat(np.repeat(out, scale, axis=0), scale, axis=1)
    out.flags.writeable = False
    return out


#: Rows and columns of a 2-D region, as slices.
Slices = tuple[slice, slice]


def clip(frame_shape: tuple[int, ...], box_shape: tuple[int, ...], x: int, y: int
         ) -> tuple[Slices, Slices] | None:
    """Return the part of a box with its top-left at (x, y) that lies inside the frame.

    As (frame slices, box slices); None when none of it does.
    """
    fh, fw = frame_shape[:2]
    bh, bw = box_shape[:2]
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + bw, fw), min(y + bh, fh)
    if x0 >= x1 or y0 >= y1:
        return None
    return (slice(y0, y1), slice(x0, x1)), (slice(y0 - y, y1 - y), slice(x0 - x, x1 - x))


def blit(
    frame: np.ndarray, bitmap: np.ndarray, x: int, y: int, colour: np.ndarray | tuple[int, ...]
) -> None:
    """Paint ``colour`` into ``frame`` (H, W, 3) where ``bitmap`` is set, top-left at (x, y).

    The bitmap is clipped to the frame, so any position (even far off the panel) is safe.
    """
    part = clip(frame.shape, bitmap.shape, x, y)
    if part is not None:
        inside, of_bitmap = part
        frame[inside][bitmap[of_bitmap]] = colour
