"""Icons for notifications: ``icon(name, size)`` gives a built-in icon's RGBA pixels.

Owns where the built-in icons live (PNGs named ``<name>_<size>.png`` in the
``icons/`` folder beside this module) and turning one into a ``(size, size, 4)``
uint8 array. ``image_icon`` makes an uploaded image's first frame into one.
Called off the render thread (it reads files). Knows nothing of the render loop.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

#: Where the built-in icons are.
ICON_DIR = Path(__file__).with_name("icons")
#: The sizes built-in icons come in, in pixels (square).
SIZES = (8, 16)
_NAME = re.compile(r"^[a-z0-9_-]{1,32}$")


def names() -> list[str]:
    """The built-in icon names (those with a PNG of every size), sorted."""
    if not ICON_DIR.is_dir():
        return []
    found: dict[str, set[int]] = {}
    for path in ICON_DIR.glob("*_*.png"):
        name, _, size = path.stem.rpartition("_")
        if size.isdigit():
            found.setdefault(name, set()).add(int(size))
    return sorted(n for n, sizes in found.items() if set(SIZES) <= sizes)


def catalogue() -> list[dict[str, object]]:
    """The retained ``icons`` document: ``[{"name": ..., "sizes": [8, 16]}]``."""
    return [{"name": n, "sizes": list(SIZES)} for n in names()]


@lru_cache(maxsize=64)
def icon(name: str, size: int) -> np.ndarray | None:
    """The built-in icon ``name`` at ``size`` px as read-only RGBA uint8, or None when unknown."""
    if not _NAME.match(name) or size not in SIZES:
        return None
    path = ICON_DIR / f"{name}_{size}.png"
    if not path.is_file():
        return None
    with Image.open(path) as img:
        pixels = np.asarray(img.convert("RGBA").resize((size, size), Image.Resampling.NEAREST))
    out = np.ascontiguousarray(pixels, np.uint8)
    out.flags.writeable = False
    return out


def image_icon(frame: np.ndarray, size: int, source: tuple[int, int] | None = None
               ) -> np.ndarray:
    """An uploaded image's frame (H, W, 3) scaled to ``size`` square (nearest), opaque RGBA.

    ``source`` (the upload's width and height) crops away the black bars the frame was
    fitted to the panel with.
    """
    if source is not None and min(source) > 0:
        fh, fw = frame.shape[:2]
        scale = min(fw / source[0], fh / source[1])
        cw, ch = max(1, round(source[0] * scale)), max(1, round(source[1] * scale))
        x, y = (fw - cw) // 2, (fh - ch) // 2
        frame = frame[y : y + ch, x : x + cw]
    h, w = frame.shape[:2]
    rows = (np.arange(size) * h // size).clip(0, h - 1)
    cols = (np.arange(size) * w // size).clip(0, w - 1)
    rgb = frame[rows][:, cols, :3].astype(np.uint8)
    alpha = np.full((size, size, 1), 255, np.uint8)
    return np.ascontiguousarray(np.concatenate([rgb, alpha], axis=2))
