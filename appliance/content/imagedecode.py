"""Upload decoding: from untrusted picture bytes to panel-sized frames, in bounded work.

Owns what an upload may cost: the accepted formats (by decoding, never by name),
the checks on every frame's own size before it is decoded (a GIF frame's
descriptor may be far larger than the screen its header declares), the budget of
decoded pixels over all frames, Pillow's own bomb limit for the decode, frame
delays clamped to a sane range, fitting frames to the panel and re-encoding them.
Knows nothing of files, MQTT, Flask or the render loop: ``appliance.content.images``
stores what this returns.
"""

from __future__ import annotations

import io
import math
import struct
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

#: Formats accepted; everything else is refused even when Pillow could decode it.
FORMATS = ("PNG", "GIF", "JPEG")
#: Largest side of any frame (and of the picture it grows to) before resizing.
MAX_SIDE_PX = 8192
#: Frame timing: browsers treat GIF delays under 20 ms as 100 ms; so do we. Delays
#: over a minute are clamped to a minute (a 65,535 s frame would freeze the panel).
DEFAULT_FRAME_MS = 100
MIN_FRAME_MS = 20
MAX_FRAME_MS = 60_000
#: Decoded frames kept in memory at most (engine side), in bytes.
MAX_DECODED_BYTES = 64 * 1024 * 1024
#: Pixels decoded over all frames, as a multiple of the per-frame pixel limit.
WORK_FRAMES = 4
#: Palette frames are sampled down to this many times the panel before filtering.
FIT_OVERSAMPLE = 4

#: Pillow's bomb limit and GIF loading strategy are globals: set under this lock.
_PILLOW_LOCK = threading.Lock()


class ImageError(ValueError):
    """An upload is refused; ``code`` says why (maps onto an HTTP status)."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None
                 ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}


@dataclass(frozen=True)
class Limits:
    """Upload and folder limits (from ``bridge`` settings)."""

    max_bytes: int = 4 * 1024 * 1024
    max_pixels: int = 8_000_000
    max_frames: int = 300
    #: Quota of the images folder: stored images, and bytes of all their files.
    max_count: int = 200
    max_total_bytes: int = 256 * 1024 * 1024

    @property
    def max_work_pixels(self) -> int:
        """Pixels decoded over all frames of one upload, at most."""
        return self.max_pixels * WORK_FRAMES


@dataclass(frozen=True)
class Decoded:
    """An upload fitted to the panel."""

    frames: np.ndarray  # (N, height, width, 3) uint8
    durations_ms: list[int]
    source_format: str
    source_size: tuple[int, int]


def clamp_frame_ms(ms: float | None) -> int:
    """Return a frame delay in the played range: under 20 ms is 100 ms, at most 60 s."""
    if ms is None or not math.isfinite(ms) or ms < MIN_FRAME_MS:
        return DEFAULT_FRAME_MS
    return int(min(round(ms), MAX_FRAME_MS))


def _too_large(message: str, **details: Any) -> ImageError:
    return ImageError("image_too_large", message, details)


def check_frame(index: int, canvas: tuple[int, int], box: tuple[int, int, int, int],
                limits: Limits) -> None:
    """Refuse frame ``index`` when it, or the picture it grows to, is over the limits."""
    x0, y0, x1, y1 = box
    fw, fh = x1 - x0, y1 - y0
    cw, ch = canvas
    sides = (fw, fh, cw, ch)
    if min(sides) < 0 or max(sides) > MAX_SIDE_PX or fw * fh > limits.max_pixels \
            or cw * ch > limits.max_pixels:
        raise _too_large(
            f"frame {index} is {fw}x{fh} pixels at ({x0},{y0}), so the picture is "
            f"{cw}x{ch}: at most {limits.max_pixels} pixels and {MAX_SIDE_PX} per side "
            "for every frame", frame=index, width=fw, height=fh,
            canvas_width=cw, canvas_height=ch)


def _sub_blocks_end(data: bytes, pos: int) -> int:
    while pos < len(data) and data[pos]:
        pos += data[pos] + 1
    return pos + 1


def gif_frame_boxes(data: bytes) -> Iterator[tuple[int, int, int, int]]:
    """Yield each GIF frame's box (x0, y0, x1, y1) from its descriptor, decoding nothing.

    Stops quietly at the first thing that is not a GIF block: Pillow then judges
    the rest, and every frame is checked again after ``seek``.
    """
    if len(data) < 13 or data[:3] != b"GIF":
        return
    flags = data[10]
    pos = 13 + ((3 << ((flags & 7) + 1)) if flags & 0x80 else 0)
    while pos < len(data):
        kind = data[pos]
        if kind == 0x21:  # extension: label, then sub-blocks
            pos = _sub_blocks_end(data, pos + 2)
        elif kind == 0x2C and pos + 10 <= len(data):  # image descriptor
            x, y, w, h = struct.unpack_from("<4H", data, pos + 1)
            local = data[pos + 9]
            yield x, y, x + w, y + h
            pos += 10 + ((3 << ((local & 7) + 1)) if local & 0x80 else 0) + 1
            pos = _sub_blocks_end(data, pos)
        else:
            return


def plan_frames(data: bytes, im: Image.Image, n: int, limits: Limits) -> None:
    """Refuse, before decoding anything, a picture whose frames are over the limits."""
    size = im.size
    work = 0
    boxes: Iterator[tuple[int, int, int, int]] = (
        gif_frame_boxes(data) if im.format == "GIF" else iter(()))
    for index in range(n):
        box = next(boxes, (0, 0, *size))
        size = (max(size[0], box[2]), max(size[1], box[3]))
        check_frame(index, size, box, limits)
        work += size[0] * size[1]
        if work > limits.max_work_pixels:
            raise _too_large(
                f"decoding all frames would take more than {limits.max_work_pixels} pixels "
                f"(reached at frame {index} of {n}); use fewer or smaller frames",
                frame=index, frames=n)


def _open(data: bytes) -> Image.Image:
    from PIL import Image

    try:
        return Image.open(io.BytesIO(data), formats=list(FORMATS))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_large("image has too many pixels") from None
    except Exception:  # Pillow raises many types for garbage; all mean "not an image"
        raise ImageError("unsupported_media_type", "not a PNG, GIF or JPEG image") from None


def _check_header(im: Image.Image, width: int, height: int, limits: Limits) -> int:
    """Check the declared size and frame count; return the frame count.

    A JPEG is decoded at 1/2..1/8 of its size (what the panel needs, by DCT
    scaling), so its pixel limit applies to that size: photos from a phone pass.
    """
    sw, sh = im.size
    if sw < 1 or sh < 1 or sw > MAX_SIDE_PX or sh > MAX_SIDE_PX:
        raise _too_large(f"{sw}x{sh} is outside 1..{MAX_SIDE_PX} pixels per side")
    if im.format == "JPEG":
        im.draft("RGB", (width, height))
    dw, dh = im.size
    if dw * dh > limits.max_pixels:
        raise _too_large(f"{sw}x{sh} has more than {limits.max_pixels} pixels")
    n = int(getattr(im, "n_frames", 1))
    if n > limits.max_frames:
        raise ImageError("too_many_frames", f"{n} frames; at most {limits.max_frames}")
    if n * width * height * 3 > MAX_DECODED_BYTES:
        raise ImageError("too_many_frames", f"{n} frames do not fit in memory at panel size")
    return n


def decode(data: bytes, width: int, height: int, limits: Limits) -> Decoded:
    """Decode an upload into panel-sized frames and their durations, or raise ImageError.

    One decode at a time (in this process), so the memory a decode may take is
    bounded once, not once per request thread.
    """
    if len(data) > limits.max_bytes:
        raise ImageError("too_large", f"file is larger than {limits.max_bytes} bytes")
    if not data:
        raise ImageError("unsupported_media_type", "empty file")
    # Pillow is imported where pictures are decoded, not by importing this module: the
    # engine's start-up (the first frame) needs none of it.
    from PIL import GifImagePlugin, Image

    with _PILLOW_LOCK, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        saved = Image.MAX_IMAGE_PIXELS, GifImagePlugin.LOADING_STRATEGY
        # GIF frames sharing one palette stay at one byte a pixel (not four).
        GifImagePlugin.LOADING_STRATEGY = \
            GifImagePlugin.LoadingStrategy.RGB_AFTER_DIFFERENT_PALETTE_ONLY
        try:
            # Pillow warns above MAX_IMAGE_PIXELS (an error here) and refuses above
            # twice it: opening only reads the header, which _check_header judges.
            Image.MAX_IMAGE_PIXELS = MAX_SIDE_PX * MAX_SIDE_PX
            im = _open(data)
            fmt, source = str(im.format), im.size
            n = _check_header(im, width, height, limits)
            Image.MAX_IMAGE_PIXELS = limits.max_pixels  # for every seek and load
            plan_frames(data, im, n, limits)
            frames, durations = _decode_frames(im, n, width, height, limits)
        except ImageError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _too_large("image has too many pixels") from None
        except Exception:  # truncated or inconsistent data, in any of Pillow's types
            raise ImageError("invalid_image", "the image data is damaged") from None
        finally:
            Image.MAX_IMAGE_PIXELS, GifImagePlugin.LOADING_STRATEGY = saved
    if not frames:
        raise ImageError("invalid_image", "the image has no frames")
    return Decoded(np.stack(frames), durations, fmt, source)


def _decode_frames(im: Image.Image, n: int, width: int, height: int, limits: Limits
                   ) -> tuple[list[np.ndarray], list[int]]:
    """Seek, check and only then decode each frame (the checks look at the tile)."""
    frames: list[np.ndarray] = []
    durations: list[int] = []
    work = 0
    for index in range(n):
        im.seek(index)
        for tile in getattr(im, "tile", None) or ():
            check_frame(index, im.size, tile[1] or (0, 0, *im.size), limits)
        work += im.size[0] * im.size[1]
        if work > limits.max_work_pixels:
            raise _too_large(f"decoding all frames would take more than "
                             f"{limits.max_work_pixels} pixels", frame=index, frames=n)
        frames.append(fit(im, width, height))
        durations.append(clamp_frame_ms(im.info.get("duration")) if n > 1 else 0)
    return frames, durations


def fit(frame: Image.Image, width: int, height: int) -> np.ndarray:
    """Scale ``frame`` to fit ``width`` x ``height`` keeping its aspect, centred on black.

    Memory: a palette or alpha frame is first sampled down in its own mode to
    ``FIT_OVERSAMPLE`` times the panel, so no full-size RGBA (or premultiplied)
    copy of a large frame is ever made; RGB and grey frames are box-reduced.
    """
    from PIL import Image

    frame.load()
    scale = min(width / frame.width, height / frame.height)
    w = max(1, round(frame.width * scale))
    h = max(1, round(frame.height * scale))
    src = frame
    if src.mode not in ("RGB", "L"):
        mid = (min(src.width, w * FIT_OVERSAMPLE), min(src.height, h * FIT_OVERSAMPLE))
        if mid != src.size:
            src = src.resize(mid, Image.Resampling.NEAREST)
        src = src.convert("RGBA")
    small = src.resize((w, h), Image.Resampling.LANCZOS, reducing_gap=3.0).convert("RGBA")
    canvas = Image.new("RGB", (width, height), (0, 0, 0))
    canvas.paste(small, ((width - w) // 2, (height - h) // 2), small)
    return np.asarray(canvas, dtype=np.uint8)


def encode_png(frames: np.ndarray, durations_ms: list[int]) -> bytes:
    """Re-encode frames as PNG (animated PNG when there are several)."""
    from PIL import Image

    images = [Image.fromarray(f, "RGB") for f in frames]
    out = io.BytesIO()
    if len(images) > 1:
        images[0].save(out, format="PNG", save_all=True, append_images=images[1:],
                       duration=durations_ms, loop=0)
    else:
        images[0].save(out, format="PNG")
    return out.getvalue()
