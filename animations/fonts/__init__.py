"""Loading LightBox's compact bitmap font files (.lbf) into numpy glyph tables.

Owns the .lbf format's reading side (``scripts/bdf_to_lbf.py`` writes it; the layout is
documented there) and a lazy code point -> bitmap mapping. The files beside this module are
converted from the public-domain X11 misc-fixed fonts (see LICENSE-misc-fixed.txt). Pure
stdlib + numpy: knows nothing of animations, the engine or rendering.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_HEADER = struct.Struct("<4sBBBxI")
_DIR = Path(__file__).resolve().parent


class GlyphTable(Mapping[str, np.ndarray]):
    """Characters to read-only (height, width) bool bitmaps; the index is built on first use."""

    def __init__(self, codes: np.ndarray, bitmaps: np.ndarray) -> None:
        self._codes = codes
        self._bitmaps = bitmaps
        self._index: dict[str, int] | None = None

    def _lookup(self) -> dict[str, int]:
        if self._index is None:
            self._index = {chr(c): i for i, c in enumerate(self._codes.tolist())}
        return self._index

    def __getitem__(self, ch: str) -> np.ndarray:
        bitmap: np.ndarray = self._bitmaps[self._lookup()[ch]]
        return bitmap

    def __contains__(self, ch: object) -> bool:
        return ch in self._lookup()

    def __iter__(self) -> Iterator[str]:
        return iter(self._lookup())

    def __len__(self) -> int:
        return len(self._codes)


@dataclass(frozen=True)
class FontData:
    """One font file's cell size, baseline and glyphs."""

    width: int
    height: int
    ascent: int
    glyphs: GlyphTable


def load(name: str) -> FontData:
    """Read ``<name>.lbf`` from this package; raise ValueError when it is not an .lbf file."""
    return parse((_DIR / f"{name}.lbf").read_bytes())


def parse(data: bytes) -> FontData:
    """Return the font in the .lbf bytes ``data``."""
    if len(data) < _HEADER.size:
        raise ValueError("not a LightBox font: too short")
    magic, width, height, ascent, count = _HEADER.unpack_from(data)
    per_row = (width + 7) // 8
    size = _HEADER.size + 4 * count + count * height * per_row
    if magic != b"LBF1" or len(data) != size or not 0 < width <= 64 or height == 0:
        raise ValueError("not a LightBox font: bad header or size")
    codes = np.frombuffer(data, "<u4", count, _HEADER.size)
    rows = np.frombuffer(data, np.uint8, count * height * per_row, _HEADER.size + 4 * count)
    bits = np.unpackbits(rows.reshape(count, height, per_row), axis=2)[:, :, :width]
    bitmaps = np.ascontiguousarray(bits).view(bool)
    bitmaps.flags.writeable = False
    return FontData(width, height, ascent, GlyphTable(codes, bitmaps))
