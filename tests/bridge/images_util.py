"""Test pictures made with Pillow at test time: PNGs, GIFs, APNGs, bombs, a text file."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def png(colour: tuple[int, int, int] = (255, 0, 0), size: tuple[int, int] = (32, 16)) -> bytes:
    """A one-colour PNG."""
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def gif(colours: list[tuple[int, int, int]], durations_ms: list[int],
        size: tuple[int, int] = (16, 8)) -> bytes:
    """An animated GIF with one colour per frame and the given delays."""
    frames = [Image.new("RGB", size, c) for c in colours]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:],
                   duration=durations_ms, loop=0, disposal=1)
    return out.getvalue()


def bomb(side: int = 20000) -> bytes:
    """A small PNG that decodes to side x side pixels (a decompression bomb)."""
    out = io.BytesIO()
    Image.new("1", (side, side), 0).save(out, format="PNG", optimize=True)
    return out.getvalue()


def text_file() -> bytes:
    """Not a picture at all (to be uploaded as cat.png)."""
    return b"this is not a picture, just text renamed to cat.png\n" * 10


def _gif_blocks(data: bytes) -> tuple[bytes, list[bytes]]:
    """Split a GIF into (header with screen descriptor and colour table, blocks)."""
    flags = data[10]
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    head, blocks = data[:pos], []
    while data[pos] != 0x3B:
        start = pos
        if data[pos] == 0x21:
            pos += 2
        else:
            lct = data[pos + 9]
            pos += 10 + (3 << ((lct & 7) + 1) if lct & 0x80 else 0) + 1
        while data[pos]:
            pos += data[pos] + 1
        pos += 1
        blocks.append(data[start:pos])
    return head, blocks


def _one_frame_gif(size: tuple[int, int], index: int) -> bytes:
    palette = [0, 0, 0, 255, 0, 0, 0, 0, 255] + [0] * (256 * 3 - 9)
    im = Image.new("P", size, index)
    im.putpalette(palette)
    out = io.BytesIO()
    im.save(out, format="GIF", optimize=False, duration=100)
    return out.getvalue()


def gif_bomb(huge: int = 8192, frames: int = 1, small: int = 16,
             at: tuple[int, int] = (0, 0)) -> bytes:
    """A GIF whose screen says small x small but whose later frames are huge x huge.

    Pillow writes each frame as a GIF of its own (same palette); the frame blocks of
    the huge one are spliced in after the small one, so the file is small, the
    header honest about its screen, and each later frame's own descriptor larger.
    ``at`` moves the later frames (a small frame far out grows the picture too).
    """
    head, first = _gif_blocks(_one_frame_gif((small, small), 1))
    _, big = _gif_blocks(_one_frame_gif((huge, huge), 2))
    moved = [b[:1] + struct.pack("<2H", *at) + b[5:] if b[0] == 0x2C else b for b in big]
    return head + b"".join(first) + b"".join(moved) * frames + b";"


def apng(colours: list[tuple[int, int, int]], delays: list[tuple[int, int]],
         size: tuple[int, int] = (16, 8)) -> bytes:
    """An animated PNG; frame ``i`` shows for ``delays[i]`` = (numerator, denominator) s.

    Pillow writes the frames; the delay fields of each fcTL chunk are then set as
    given (Pillow itself only writes milliseconds up to 65,535) and the CRC redone.
    """
    frames = [Image.new("RGB", size, c) for c in colours]
    out = io.BytesIO()
    frames[0].save(out, format="PNG", save_all=True, append_images=frames[1:],
                   duration=[100] * len(frames), loop=0)
    data = bytearray(out.getvalue())
    pos, index = 8, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"fcTL":
            body = pos + 8
            data[body + 20:body + 24] = struct.pack(">HH", *delays[index])
            crc = zlib.crc32(bytes(data[pos + 4:body + length]))
            data[body + length:body + length + 4] = struct.pack(">I", crc)
            index += 1
        pos += 12 + length
    return bytes(data)
