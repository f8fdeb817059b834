"""Drawing text into frames: measuring, rendering, centring in a band, sub-pixel scrolling.

Shared by the notification layer and the clock and scrolling-text animations, so all
text on the panel looks and moves the same. Owns the one way text moves smoothly:

**Sub-pixel scrolling.** A text is rendered once to a bool mask (``Font.render``, cached);
each frame it is painted at a float ``x``. With ``x = x0 + f`` (``x0`` an integer,
``0 <= f < 1``) every source column lends ``1 - f`` of its ink to column ``x0 + i`` and
``f`` to ``x0 + i + 1``: linear interpolation between the two integer positions, as
coverage (alpha) blended over what is underneath. A whole-number ``x`` paints exactly the
mask (no blending), so a text at rest stays crisp. Only the visible columns are computed,
so a 280-character text costs what the panel width costs.

Pure numpy computation on arrays handed in: knows nothing of the engine, layers,
notifications or I/O.
"""

from __future__ import annotations

import math

import numpy as np

from animations.common import wrap
from animations.font import Font, blit, clip

#: A colour: (r, g, b) in 0..255, or a per-pixel (h, w, 3) image the size of the mask.
Colour = tuple[int, ...] | np.ndarray


def measure(text: str, font: Font, scale: int = 1) -> tuple[int, int]:
    """Return the (width, height) in pixels of ``text`` drawn in ``font`` at ``scale``."""
    scale = max(1, scale)
    return font.text_width(text) * scale, font.height * scale


def centre_y(band_height: int, content_height: int, top: int = 0) -> int:
    """Return the top row that centres ``content_height`` rows in a band (rounding up)."""
    return top + (band_height - content_height) // 2


def scroll_x(t: float, speed: float, content_width: int, view_width: int) -> float:
    """Return the left edge at time ``t`` of a text scrolling right to left, looping.

    At t=0 the text starts just right of the view (x = view_width); it moves ``speed``
    pixels per second and starts again once it has left on the left. A float: paint it
    with ``paint`` for smooth motion.
    """
    period = content_width + view_width
    if period <= 0 or not math.isfinite(t * speed):
        return float(view_width)
    return view_width - wrap(t * speed, period)


def render_rgb(text: str, font: Font, colour: tuple[int, ...],
               background: tuple[int, ...] = (0, 0, 0), scale: int = 1) -> np.ndarray:
    """Return ``text`` as an (h, w, 3) uint8 image: ``colour`` on ``background``."""
    mask = font.render(text, scale)
    out = np.empty((*mask.shape, 3), np.uint8)
    out[...] = background
    out[mask] = colour
    return out


def draw_text(frame: np.ndarray, text: str, font: Font, x: float, band: tuple[int, int],
              colour: Colour, background: tuple[int, int, int] | None = None,
              scale: int = 1) -> int:
    """Draw ``text`` at float ``x``, centred in the rows ``band`` = (top, height); return its width.

    The one-call form for a banner: render (cached), centre, paint. ``background`` fills
    the whole band first (all of the frame's width), not only the text's box.
    """
    top, height = band
    if background is not None:
        frame[max(top, 0) : max(top + height, 0)] = background
    mask = font.render(text, scale)
    paint(frame, mask, x, centre_y(height, mask.shape[0], top), colour)
    return int(mask.shape[1])


def paint(frame: np.ndarray, mask: np.ndarray, x: float, y: int, colour: Colour,
          background: tuple[int, ...] | None = None) -> None:
    """Paint ``colour`` into ``frame`` (H, W, 3 uint8) where ``mask`` is set, at float ``x``.

    ``colour`` values are 0..255. Fractional ``x`` is drawn by sub-pixel interpolation
    (see the module docstring);
    ``background`` (when given) first fills the box the text covers. Clipped to the
    frame: any position, however far off, is safe.
    """
    if not math.isfinite(x):
        return
    x0 = math.floor(x)
    f = float(x - x0)
    width = mask.shape[1] + (1 if f else 0)
    part = clip(frame.shape, (mask.shape[0], width), x0, y)
    if part is None:
        return
    inside, (rows, cols) = part
    if background is not None:
        frame[inside] = background
    if not f:
        if isinstance(colour, np.ndarray):
            np.copyto(frame[inside], colour[rows, cols], where=mask[rows, cols][..., None])
        else:
            blit(frame, mask, x0, y, colour)
        return
    # Only the source columns that reach the visible ones: [a - 1, b) of the mask.
    s0, s1 = max(cols.start - 1, 0), min(cols.stop, mask.shape[1])
    a, b = cols.start - s0, cols.stop - s0
    sub = mask[rows, s0:s1]
    alpha = _shift(sub, f, a, b)[..., None]
    region = frame[inside]
    blended = region.astype(np.float32)
    if isinstance(colour, np.ndarray):
        blended -= alpha * blended
        blended += _shift(colour[rows, s0:s1] * sub[..., None], f, a, b)
    else:
        blended += alpha * (np.asarray(colour, np.float32) - blended)
    blended += 0.5
    np.copyto(region, blended, casting="unsafe")  # a mix of two bytes stays in 0..255


def _shift(src: np.ndarray, f: float, a: int, b: int) -> np.ndarray:
    """Return columns ``a:b`` of ``src`` (h, w[, 3]) moved right by ``f`` of a pixel (float32).

    Output column j is ``(1 - f) * src[j] + f * src[j - 1]`` (outside ``src``: 0), so the
    result has w + 1 columns in all; only the asked-for ones are computed.
    """
    w = src.shape[1]
    out = np.zeros((src.shape[0], b - a, *src.shape[2:]), np.float32)
    lo, hi = max(a, 0), min(b, w)
    if hi > lo:
        out[:, lo - a : hi - a] += np.float32(1.0 - f) * src[:, lo:hi]
    lo, hi = max(a, 1), min(b, w + 1)
    if hi > lo:
        out[:, lo - a : hi - a] += np.float32(f) * src[:, lo - 1 : hi - 1]
    return out
