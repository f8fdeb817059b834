"""The built-in notification icons: hand-drawn 8x8 and 16x16 pixel art, as RGB arrays.

Owns finding, decoding (Pillow) and caching the PNGs in ``icons/`` beside this module,
which ``scripts/make_icons.py`` draws from character grids. Knows nothing of
notifications, layers or MQTT; uploaded images are ``appliance.content.images``' business.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

_DIR = Path(__file__).resolve().parent / "icons"
#: The sizes drawn by hand; other sizes are scaled (nearest neighbour) from the closest.
SIZES = (8, 16)
#: The largest size ``icon`` scales to.
MAX_SIZE = 256


def names() -> list[str]:
    """Return the built-in icon names, sorted (a new list each call)."""
    return list(_names())


@lru_cache(maxsize=1)
def _names() -> tuple[str, ...]:
    return tuple(sorted({p.name.rsplit("-", 1)[0] for p in _DIR.glob("*-8.png")}))


def icon(name: str, size: int) -> np.ndarray | None:
    """Return icon ``name`` as a read-only (size, size, 3) uint8 RGB array (black background).

    None when ``name`` is not a built-in icon or ``size`` is not in 1..MAX_SIZE. Sizes other
    than 8 and 16 are scaled from the nearest drawn size. Decoded once, then cached.
    """
    if not isinstance(name, str) or name not in _names():
        return None
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_SIZE:
        return None
    return _load(name, size)


@lru_cache(maxsize=128)
def _load(name: str, size: int) -> np.ndarray:
    from PIL import Image  # only when an icon is first shown: not at start-up

    drawn = 8 if size < 12 else 16
    with Image.open(_DIR / f"{name}-{drawn}.png") as image:
        rgb = image.convert("RGB")
    if size != drawn:
        rgb = rgb.resize((size, size), Image.Resampling.NEAREST)
    pixels = np.array(rgb, np.uint8)
    pixels.flags.writeable = False
    return pixels
