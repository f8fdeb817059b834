"""Test pictures made with Pillow: a PNG, an animated GIF, a bomb, a text file."""

from __future__ import annotations

import io

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
