#!/usr/bin/env python3
"""Convert a character-cell BDF font into LightBox's compact bitmap font file (.lbf).

Run once by a developer when a font is added or updated; the engine never parses BDF.
The .lbf layout (all little-endian):

    b"LBF1"  width:u8  height:u8  ascent:u8  pad:u8  count:u32
    count x u32       code points, ascending
    count x height x ceil(width/8) bytes: glyph rows, most significant bit = leftmost pixel

Every glyph is a full cell (width x height), so the font stays fixed-width. Glyphs of
``EXTRAS`` are added where the BDF lacks them (hand-drawn here, public domain like the
misc-fixed fonts they complete).

Usage: scripts/bdf_to_lbf.py SRC.bdf DEST.lbf
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

# Hand-drawn cells for symbols the small fonts lack, keyed by cell size then code point.
# '#' is ink; rows top to bottom; each row is the cell width.
EXTRAS: dict[tuple[int, int], dict[int, tuple[str, ...]]] = {
    size: {
        0x2713: (".....", "...#.", "..#..", "#.#..", ".#...") + (".....",) * (size[1] - 5),
        0x2717: (".....", "#..#.", ".##..", ".##..", "#..#.") + (".....",) * (size[1] - 5),
    }
    for size in ((5, 7), (5, 8))
}


def parse_bdf(text: str) -> tuple[int, int, int, dict[int, list[int]]]:
    """Return (width, height, ascent, {code point: row bit masks}) of a BDF font."""
    width = height = ascent = 0
    glyphs: dict[int, list[int]] = {}
    lines = iter(text.splitlines())
    for line in lines:
        word, _, rest = line.partition(" ")
        if word == "FONTBOUNDINGBOX":
            width, height, _x, yoff = (int(v) for v in rest.split())
            ascent = height + yoff
        elif word == "STARTCHAR":
            code, rows = _parse_char(lines, width, height, ascent)
            if code >= 0x20 and not 0x7F <= code <= 0x9F:
                glyphs[code] = rows
    return width, height, ascent, glyphs


def _parse_char(lines: object, width: int, height: int, ascent: int) -> tuple[int, list[int]]:
    code, bbx = -1, (0, 0, 0, 0)
    rows = [0] * height
    it = iter(lines)  # type: ignore[call-overload]
    for line in it:
        word, _, rest = line.partition(" ")
        if word == "ENCODING":
            code = int(rest.split()[0])
        elif word == "BBX":
            bbx = tuple(int(v) for v in rest.split())  # type: ignore[assignment]
        elif word == "BITMAP":
            w, h, xoff, yoff = bbx
            top = ascent - (yoff + h)
            nbytes = (w + 7) // 8
            for i in range(h):
                bits = int(next(it).strip(), 16) >> (nbytes * 8 - w)
                y = top + i
                if 0 <= y < height:
                    rows[y] |= _place(bits, w, xoff, width)
        elif word == "ENDCHAR":
            break
    return code, rows


def _place(bits: int, w: int, xoff: int, width: int) -> int:
    """Return a glyph row of ``w`` bits at column ``xoff`` as a ``width``-bit cell row."""
    shift = width - w - xoff
    row = bits << shift if shift >= 0 else bits >> -shift
    return row & ((1 << width) - 1)


def encode(width: int, height: int, ascent: int, glyphs: dict[int, list[int]]) -> bytes:
    """Return the .lbf bytes of a font."""
    nbytes = (width + 7) // 8
    codes = sorted(glyphs)
    out = bytearray(struct.pack("<4sBBBxI", b"LBF1", width, height, ascent, len(codes)))
    out += struct.pack(f"<{len(codes)}I", *codes)
    for code in codes:
        for row in glyphs[code]:
            out += (row << (nbytes * 8 - width)).to_bytes(nbytes, "big")
    return bytes(out)


def main(src: str, dest: str) -> None:
    width, height, ascent, glyphs = parse_bdf(Path(src).read_text(encoding="latin-1"))
    for code, grid in EXTRAS.get((width, height), {}).items():
        if code not in glyphs:
            glyphs[code] = [int(r.replace("#", "1").replace(".", "0"), 2) for r in grid]
    Path(dest).write_bytes(encode(width, height, ascent, glyphs))
    print(f"{dest}: {width}x{height} ascent {ascent}, {len(glyphs)} glyphs")


if __name__ == "__main__":
    main(*sys.argv[1:3])
