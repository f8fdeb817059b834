"""Image store: uploaded pictures, validated, resized to the panel and re-encoded.

Owns the on-disk layout of ``images_dir`` (``<id>.npy`` frames for the engine,
``<id>.png`` re-encoded picture for people, ``<id>.json`` metadata), upload
validation with Pillow (type by decoding, size, dimensions, frame count,
decompression bombs) and generated ids. Shared by the bridge (writes) and the
engine (reads frames). Knows nothing of MQTT, Flask, the render loop or displays.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import secrets
import time
import unicodedata
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageSequence

from animations import ParamError

#: Generated ids: 16 lowercase hex digits. Anything else never touches the file system.
ID_RE = re.compile(r"^[0-9a-f]{16}$")
#: Formats accepted; everything else is refused even when Pillow could decode it.
FORMATS = ("PNG", "GIF", "JPEG")
#: Largest side accepted before resizing (absurd dimensions are refused early).
MAX_SIDE_PX = 8192
#: Frame timing: browsers treat GIF delays under 20 ms as 100 ms; so do we.
DEFAULT_FRAME_MS = 100
MIN_FRAME_MS = 20
#: Decoded frames kept in memory at most (engine side), in bytes.
MAX_DECODED_BYTES = 64 * 1024 * 1024
NAME_MAX = 64


class ImageError(ValueError):
    """An upload is refused; ``code`` says why (maps onto an HTTP status)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class UnknownImageError(ParamError):
    """No stored image has that id (raised where parameters are resolved)."""

    def __init__(self, image_id: str) -> None:
        super().__init__("image", f"unknown image {image_id!r}")
        self.image_id = image_id


@dataclass(frozen=True)
class ImageInfo:
    """Metadata of one stored image."""

    id: str
    name: str
    width: int
    height: int
    frames: int
    durations_ms: list[int]
    source_format: str
    source_width: int
    source_height: int
    created: str
    bytes: int

    def as_dict(self) -> dict[str, Any]:
        """Return JSON-ready metadata."""
        d = asdict(self)
        d["duration_ms"] = sum(self.durations_ms)
        return d


@dataclass(frozen=True)
class Limits:
    """Upload limits (from ``bridge`` settings)."""

    max_bytes: int = 4 * 1024 * 1024
    max_pixels: int = 16_000_000
    max_frames: int = 300


def default_dir() -> Path:
    """Where images live when ``bridge.images_dir`` is not set.

    ``$STATE_DIRECTORY/images`` under systemd (give both units the same
    StateDirectory), else ``$XDG_DATA_HOME/lightbox/images``.
    """
    state = os.environ.get("STATE_DIRECTORY")
    if state:
        return Path(state.split(":")[0]) / "images"
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "lightbox" / "images"


def resolve_dir(configured: Path | None) -> Path:
    """Return the configured images folder, else the default one."""
    return configured if configured is not None else default_dir()


def valid_id(image_id: str) -> bool:
    """True when ``image_id`` has the shape of a generated id."""
    return bool(ID_RE.match(image_id))


def clean_name(name: str | None) -> str:
    """Return a display name from a client file name: no folders, no control characters."""
    if not name:
        return "image"
    base = re.split(r"[\\/]", name)[-1]
    base = "".join(ch for ch in unicodedata.normalize("NFC", base)
                   if unicodedata.category(ch)[0] != "C")
    base = base.strip().lstrip(".")
    return base[:NAME_MAX] or "image"


def _fit(frame: Image.Image, width: int, height: int) -> np.ndarray:
    """Scale ``frame`` to fit ``width`` x ``height`` keeping its aspect, centred on black."""
    rgb = frame.convert("RGBA")
    scale = min(width / rgb.width, height / rgb.height)
    w = max(1, round(rgb.width * scale))
    h = max(1, round(rgb.height * scale))
    small = rgb.resize((w, h), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (width, height), (0, 0, 0))
    canvas.paste(small, ((width - w) // 2, (height - h) // 2), small)
    return np.asarray(canvas, dtype=np.uint8)


def decode(data: bytes, width: int, height: int, limits: Limits
           ) -> tuple[np.ndarray, list[int], str, tuple[int, int]]:
    """Decode an upload into panel-sized frames and their durations, or raise ImageError.

    Returns (frames ``(N, height, width, 3)`` uint8, durations in ms, source format,
    source size).
    """
    if len(data) > limits.max_bytes:
        raise ImageError("too_large", f"file is larger than {limits.max_bytes} bytes")
    if not data:
        raise ImageError("unsupported_media_type", "empty file")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = Image.open(io.BytesIO(data), formats=list(FORMATS))
        except Image.DecompressionBombError:
            raise ImageError("image_too_large", "image has too many pixels") from None
        except Image.DecompressionBombWarning:
            raise ImageError("image_too_large", "image has too many pixels") from None
        except Exception:  # Pillow raises many types for garbage; all mean "not an image"
            raise ImageError("unsupported_media_type",
                             "not a PNG, GIF or JPEG image") from None
        fmt = str(im.format)
        sw, sh = im.size
        if sw < 1 or sh < 1 or sw > MAX_SIDE_PX or sh > MAX_SIDE_PX:
            raise ImageError("image_too_large",
                             f"{sw}x{sh} is outside 1..{MAX_SIDE_PX} pixels per side")
        if sw * sh > limits.max_pixels:
            raise ImageError("image_too_large",
                             f"{sw}x{sh} has more than {limits.max_pixels} pixels")
        n = int(getattr(im, "n_frames", 1))
        if n > limits.max_frames:
            raise ImageError("too_many_frames", f"{n} frames; at most {limits.max_frames}")
        if sw * sh * n > limits.max_pixels * 4:
            raise ImageError("image_too_large", "too many pixels over all frames")
        if n * width * height * 3 > MAX_DECODED_BYTES:
            raise ImageError("too_many_frames", f"{n} frames do not fit in memory at panel size")
        frames: list[np.ndarray] = []
        durations: list[int] = []
        try:
            for frame in ImageSequence.Iterator(im):
                frames.append(_fit(frame, width, height))
                ms = frame.info.get("duration", DEFAULT_FRAME_MS) if n > 1 else 0
                ms = int(ms or 0)
                durations.append(DEFAULT_FRAME_MS if n > 1 and ms < MIN_FRAME_MS else ms)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageError("image_too_large", "image has too many pixels") from None
        except Exception:
            raise ImageError("invalid_image", "the image data is damaged") from None
    if not frames:
        raise ImageError("invalid_image", "the image has no frames")
    return np.stack(frames), durations, fmt, (sw, sh)


def encode_png(frames: np.ndarray, durations_ms: list[int]) -> bytes:
    """Re-encode frames as PNG (animated PNG when there are several)."""
    images = [Image.fromarray(f, "RGB") for f in frames]
    out = io.BytesIO()
    if len(images) > 1:
        images[0].save(out, format="PNG", save_all=True, append_images=images[1:],
                       duration=durations_ms, loop=0)
    else:
        images[0].save(out, format="PNG")
    return out.getvalue()


class ImageStore:
    """Stored images in one folder. ``save`` writes; ``frames`` reads."""

    def __init__(self, directory: Path, limits: Limits | None = None) -> None:
        self.directory = directory
        self.limits = limits or Limits()

    def _path(self, image_id: str, suffix: str) -> Path:
        if not valid_id(image_id):
            raise UnknownImageError(image_id)
        return self.directory / f"{image_id}{suffix}"

    def save(self, data: bytes, name: str | None, width: int, height: int) -> ImageInfo:
        """Validate, resize and re-encode an upload; return its metadata."""
        frames, durations, fmt, (sw, sh) = decode(data, width, height, self.limits)
        png = encode_png(frames, durations)
        image_id = secrets.token_hex(8)
        info = ImageInfo(
            id=image_id, name=clean_name(name), width=width, height=height,
            frames=len(frames), durations_ms=durations, source_format=fmt,
            source_width=sw, source_height=sh,
            created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), bytes=len(png),
        )
        self.directory.mkdir(parents=True, exist_ok=True)
        _atomic(self._path(image_id, ".npy"), _npy_bytes(frames))
        _atomic(self._path(image_id, ".png"), png)
        # Metadata last: an image is listed only once all its files exist.
        _atomic(self._path(image_id, ".json"), json.dumps(info.as_dict()).encode())
        return info

    def get(self, image_id: str) -> ImageInfo:
        """Return metadata or raise UnknownImageError."""
        try:
            raw = json.loads(self._path(image_id, ".json").read_text(encoding="utf-8"))
            raw.pop("duration_ms", None)
            return ImageInfo(**raw)
        except (OSError, ValueError, TypeError):
            raise UnknownImageError(image_id) from None

    def list_all(self) -> list[ImageInfo]:
        """Return every stored image, newest first."""
        if not self.directory.is_dir():
            return []
        out = []
        for meta in self.directory.glob("*.json"):
            with contextlib.suppress(UnknownImageError):
                out.append(self.get(meta.stem))
        return sorted(out, key=lambda i: (i.created, i.id), reverse=True)

    def png(self, image_id: str) -> bytes:
        """Return the re-encoded picture."""
        try:
            return self._path(image_id, ".png").read_bytes()
        except OSError:
            raise UnknownImageError(image_id) from None

    def delete(self, image_id: str) -> None:
        """Remove an image or raise UnknownImageError."""
        meta = self._path(image_id, ".json")
        if not meta.exists():
            raise UnknownImageError(image_id)
        for suffix in (".json", ".png", ".npy"):
            with contextlib.suppress(FileNotFoundError):
                self._path(image_id, suffix).unlink()

    def frames(self, image_id: str, width: int, height: int
               ) -> tuple[np.ndarray, list[float]]:
        """Return frames ``(N, height, width, 3)`` and durations in seconds for the engine."""
        info = self.get(image_id)
        try:
            frames = np.load(self._path(image_id, ".npy"), allow_pickle=False)
        except (OSError, ValueError):
            raise UnknownImageError(image_id) from None
        if frames.ndim != 4 or frames.shape[3] != 3 or frames.dtype != np.uint8:
            raise UnknownImageError(image_id)
        if frames.shape[1:3] != (height, width):
            # The panel changed since the upload: fit the frames again.
            frames = np.stack([_fit(Image.fromarray(f, "RGB"), width, height) for f in frames])
        durations = [ms / 1000.0 for ms in info.durations_ms][: len(frames)]
        durations += [DEFAULT_FRAME_MS / 1000.0] * (len(frames) - len(durations))
        return frames, durations


def _npy_bytes(frames: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(frames, np.uint8), allow_pickle=False)
    return buf.getvalue()


def _atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        tmp.write_bytes(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
