"""Image store: uploaded pictures, validated, resized to the panel and re-encoded.

Owns the on-disk layout of ``images_dir`` (``<id>.npy`` frames for the engine,
``<id>.png`` re-encoded picture for people, ``<id>.json`` metadata), the folder's
quota (images and bytes), generated ids, and the checks on files read back for
the engine (shape, size, frame delays), so a file already in the folder gets the
limits an upload gets. Decoding uploads is ``appliance.content.imagedecode``'s. Shared by
the bridge (writes) and the engine (reads frames). Knows nothing of MQTT, Flask,
the render loop, displays or animations; its files are written through the one
atomic writer (``appliance.settings.store.atomic_write``: fsync of file and folder).
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import re
import secrets
import threading
import time
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from appliance.content.imagedecode import (
    DEFAULT_FRAME_MS,
    MAX_DECODED_BYTES,
    ImageError,
    Limits,
    clamp_frame_ms,
    decode,
    encode_png,
    fit,
)
from appliance.settings.store import atomic_write

if TYPE_CHECKING:
    from appliance.settings import BridgeSettings

__all__ = ["ID_RE", "ImageError", "ImageInfo", "ImageStore", "Limits", "UnknownImageError",
           "clean_name", "default_dir", "limits_from", "resolve_dir", "valid_id"]

#: Generated ids: 16 lowercase hex digits, the whole string (``fullmatch``: a ``$``
#: would also match before a trailing newline). Anything else never touches the disk.
ID_RE = re.compile(r"[0-9a-f]{16}")
NAME_MAX = 64
_MB = 1024 * 1024


class UnknownImageError(ValueError):
    """No stored image has that id; ``field`` names the parameter, like a ParamError.

    Not an ``animations.ParamError``: the image store (and so the bridge) imports no
    animation module. The engine catches it where it resolves parameters.
    """

    def __init__(self, image_id: str) -> None:
        self.field = "image"
        self.message = f"unknown image {image_id!r}"
        super().__init__(f"{self.field}: {self.message}")
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
    return isinstance(image_id, str) and ID_RE.fullmatch(image_id) is not None


def clean_name(name: str | None) -> str:
    """Return a display name from a client file name: no folders, no control characters."""
    if not name:
        return "image"
    base = re.split(r"[\\/]", name)[-1]
    base = "".join(ch for ch in unicodedata.normalize("NFC", base)
                   if unicodedata.category(ch)[0] != "C")
    base = base.strip().lstrip(".")
    return base[:NAME_MAX] or "image"


class ImageStore:
    """Stored images in one folder. ``save`` writes; ``frames`` reads."""

    def __init__(self, directory: Path, limits: Limits | None = None) -> None:
        self.directory = directory
        self.limits = limits or Limits()
        #: Quota check and writes of one save happen together (waitress has threads).
        self._write_lock = threading.Lock()

    def _path(self, image_id: str, suffix: str) -> Path:
        if not valid_id(image_id):
            raise UnknownImageError(image_id)
        return self.directory / f"{image_id}{suffix}"

    def save(self, data: bytes, name: str | None, width: int, height: int) -> ImageInfo:
        """Validate, resize and re-encode an upload; store it within the quota."""
        self.check_quota(0)  # a full folder is refused before any decoding work
        d = decode(data, width, height, self.limits)
        png = encode_png(d.frames, d.durations_ms)
        image_id = secrets.token_hex(8)
        info = ImageInfo(
            id=image_id, name=clean_name(name), width=width, height=height,
            frames=len(d.frames), durations_ms=d.durations_ms, source_format=d.source_format,
            source_width=d.source_size[0], source_height=d.source_size[1],
            created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), bytes=len(png),
        )
        # Metadata last: an image is listed only once all its files exist.
        files = [(".npy", _npy_bytes(d.frames)), (".png", png),
                 (".json", json.dumps(info.as_dict()).encode())]
        with self._write_lock:
            self.check_quota(sum(len(b) for _, b in files))
            self._write_all(image_id, files)
        return info

    def _write_all(self, image_id: str, files: list[tuple[str, bytes]]) -> None:
        """Write all files of an image, or none of them."""
        written: list[Path] = []
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            for suffix, data in files:
                path = self._path(image_id, suffix)
                atomic_write(path, data, 0o644)
                written.append(path)
        except BaseException as exc:
            for path in reversed(written):
                with contextlib.suppress(OSError):
                    path.unlink()
            if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise ImageError("storage_full", "the disk holding the images folder is full"
                                 ) from None
            raise

    def usage(self) -> tuple[int, int]:
        """Return (stored images, bytes of every file in the folder)."""
        count = total = 0
        with contextlib.suppress(FileNotFoundError), os.scandir(self.directory) as it:
            for entry in it:
                with contextlib.suppress(OSError):
                    if entry.is_file(follow_symlinks=False):
                        total += entry.stat(follow_symlinks=False).st_size
                        stem, _, suffix = entry.name.rpartition(".")
                        count += suffix == "json" and valid_id(stem)
        return count, total

    def check_quota(self, new_bytes: int) -> None:
        """Refuse (``images_full``) when one more image of ``new_bytes`` would not fit."""
        count, total = self.usage()
        lim = self.limits
        if count >= lim.max_count:
            raise ImageError(
                "images_full", f"the images folder is full: {count} images, and "
                f"bridge.images_max_count allows {lim.max_count}; delete one first",
                {"images": count, "max_count": lim.max_count})
        if total + new_bytes > lim.max_total_bytes:
            raise ImageError(
                "images_full", f"the images folder is full: {total / _MB:.1f} MB used, this "
                f"picture needs {new_bytes / _MB:.1f} MB, and bridge.images_max_mb allows "
                f"{lim.max_total_bytes / _MB:.0f} MB; delete some first",
                {"bytes": total, "new_bytes": new_bytes, "max_bytes": lim.max_total_bytes})

    def get(self, image_id: str) -> ImageInfo:
        """Return metadata (delays clamped, as for an upload) or raise UnknownImageError."""
        try:
            raw = json.loads(self._path(image_id, ".json").read_text(encoding="utf-8"))
            raw.pop("duration_ms", None)
            if len(raw["durations_ms"]) > 1:  # files of older versions kept any delay
                raw["durations_ms"] = [clamp_frame_ms(float(ms)) for ms in raw["durations_ms"]]
            return ImageInfo(**raw)
        except (OSError, ValueError, TypeError, KeyError):
            raise UnknownImageError(image_id) from None

    def exists(self, image_id: str) -> bool:
        """Return whether an image of that id is stored (one stat, no read)."""
        return valid_id(image_id) and self._path(image_id, ".json").is_file()

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
        """Return frames ``(N, height, width, 3)`` and durations in seconds for the engine.

        A file already in the folder gets the upload's limits: its shape and size are
        checked from the ``.npy`` header before any frame is read, delays are clamped.
        """
        info = self.get(image_id)
        frames = self._load_frames(image_id)
        if frames.shape[1:3] != (height, width):
            # The panel changed since the upload: fit the frames again (Pillow only here).
            from PIL import Image

            frames = np.stack([fit(Image.fromarray(f, "RGB"), width, height) for f in frames])
        durations = [clamp_frame_ms(ms) / 1000.0 if len(frames) > 1 else 0.0
                     for ms in info.durations_ms[: len(frames)]]
        durations += [DEFAULT_FRAME_MS / 1000.0] * (len(frames) - len(durations))
        return frames, durations

    def _load_frames(self, image_id: str) -> np.ndarray:
        """Read ``<id>.npy`` after checking its header against the limits."""
        try:
            mapped = np.load(self._path(image_id, ".npy"), mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError):
            raise UnknownImageError(image_id) from None
        shape = mapped.shape
        if mapped.dtype != np.uint8 or len(shape) != 4 or shape[3] != 3 \
                or not 1 <= shape[0] <= self.limits.max_frames \
                or mapped.nbytes > MAX_DECODED_BYTES \
                or shape[1] * shape[2] > self.limits.max_pixels:
            raise UnknownImageError(image_id)
        try:
            return np.array(mapped, dtype=np.uint8)
        except (OSError, ValueError):
            raise UnknownImageError(image_id) from None


def limits_from(bridge: BridgeSettings) -> Limits:
    """Return the upload and quota limits the ``bridge`` settings ask for."""
    return Limits(max_bytes=bridge.upload_max_bytes, max_pixels=bridge.upload_max_pixels,
                  max_frames=bridge.upload_max_frames, max_count=bridge.images_max_count,
                  max_total_bytes=bridge.images_max_mb * _MB)


def _npy_bytes(frames: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(frames, np.uint8), allow_pickle=False)
    return buf.getvalue()

