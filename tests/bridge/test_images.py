"""The image store and the image animation without any process: decoding, limits, timing."""

from __future__ import annotations

import errno
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from animations.image import ImageAnimation
from appliance.content import images as images_mod
from appliance.content.imagedecode import clamp_frame_ms
from appliance.content.images import (
    ImageError,
    ImageStore,
    Limits,
    UnknownImageError,
    clean_name,
    valid_id,
)
from tests.bridge import images_util


def store(tmp_path: Path, **kw: int) -> ImageStore:
    return ImageStore(tmp_path / "images", Limits(**kw))


def test_png_is_fitted_to_the_panel_and_re_encoded(tmp_path: Path) -> None:
    s = store(tmp_path)
    info = s.save(images_util.png((0, 255, 0), (32, 16)), "green.png", 64, 32)
    assert (info.width, info.height, info.frames) == (64, 32, 1)
    assert info.source_format == "PNG"
    frames, _ = s.frames(info.id, 64, 32)
    assert frames.shape == (1, 32, 64, 3) and frames.dtype == np.uint8
    assert tuple(frames[0, 16, 32]) == (0, 255, 0)
    assert s.png(info.id).startswith(b"\x89PNG")
    assert [i.id for i in s.list_all()] == [info.id]


def test_gif_keeps_its_frame_timing(tmp_path: Path) -> None:
    s = store(tmp_path)
    data = images_util.gif([(255, 0, 0), (0, 255, 0), (0, 0, 255)], [100, 300, 600])
    info = s.save(data, "rgb.gif", 64, 32)
    assert info.frames == 3
    assert info.durations_ms == [100, 300, 600]
    frames, durations = s.frames(info.id, 64, 32)
    anim = ImageAnimation(64, 32, {"image": info.id, "speed": 1.0})
    anim.set_frames(frames, durations)
    # 0-0.1 s red, 0.1-0.4 s green, 0.4-1.0 s blue, then around again.
    assert [anim.frame_index(t) for t in (0.05, 0.2, 0.39, 0.5, 0.99, 1.05)] == [0, 1, 1, 2, 2, 0]
    assert tuple(anim.draw(0.2)[10, 10]) == (0, 255, 0)


@pytest.mark.parametrize(("data", "code"), [
    (images_util.text_file(), "unsupported_media_type"),
    (b"", "unsupported_media_type"),
    (images_util.png()[:40], "unsupported_media_type"),
    (images_util.bomb(20000), "image_too_large"),
])
def test_bad_uploads_are_refused(tmp_path: Path, data: bytes, code: str) -> None:
    with pytest.raises(ImageError) as exc:
        store(tmp_path).save(data, "x.png", 64, 32)
    assert exc.value.code == code
    assert not (tmp_path / "images").exists() or not list((tmp_path / "images").iterdir())


def test_limits_size_pixels_frames(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="larger than"):
        store(tmp_path, max_bytes=10).save(images_util.png(), "a.png", 64, 32)
    with pytest.raises(ImageError) as exc:
        store(tmp_path, max_pixels=100).save(images_util.png(size=(20, 20)), "a.png", 64, 32)
    assert exc.value.code == "image_too_large"
    gif = images_util.gif([(1, 1, 1), (2, 2, 2), (3, 3, 3)], [100, 100, 100])
    with pytest.raises(ImageError) as exc:
        store(tmp_path, max_frames=2).save(gif, "a.gif", 64, 32)
    assert exc.value.code == "too_many_frames"


def test_ids_never_reach_the_file_system(tmp_path: Path) -> None:
    s = store(tmp_path)
    for bad in ("../../etc/passwd", "..", "abc", "0123456789ABCDEF", "0123456789abcdef/"):
        with pytest.raises(UnknownImageError):
            s.frames(bad, 64, 32)
        with pytest.raises(UnknownImageError):
            s.delete(bad)
    assert clean_name("../../etc/passwd.png") == "passwd.png"
    assert clean_name("..\\..\\boot.ini") == "boot.ini"
    assert clean_name("\x00\x1b[31m.gif") == "[31m.gif"


def test_frames_follow_a_panel_change(tmp_path: Path) -> None:
    s = store(tmp_path)
    info = s.save(images_util.png((9, 9, 9)), "a.png", 64, 32)
    frames, _ = s.frames(info.id, 128, 64)
    assert frames.shape == (1, 64, 128, 3)


# ---------------------------------------------------------------- every frame, not the header

def test_a_gif_frame_larger_than_its_screen_is_refused_naming_it(tmp_path: Path) -> None:
    bomb = images_util.gif_bomb(8192)
    assert Image.open(io.BytesIO(bomb)).size == (16, 16)  # the header is honest
    with pytest.raises(ImageError) as exc:
        store(tmp_path).save(bomb, "bomb.gif", 64, 32)
    assert exc.value.code == "image_too_large"
    assert "frame 1 is 8192x8192" in exc.value.message
    assert exc.value.details["frame"] == 1
    assert not (tmp_path / "images").exists()


def test_a_small_frame_far_out_grows_the_picture_and_is_refused(tmp_path: Path) -> None:
    far = images_util.gif_bomb(16, at=(8000, 8000))
    with pytest.raises(ImageError) as exc:
        store(tmp_path).save(far, "far.gif", 64, 32)
    assert "frame 1 is 16x16 pixels at (8000,8000)" in exc.value.message
    assert "8016x8016" in exc.value.message
    near = images_util.gif_bomb(16, at=(8, 8))  # 24x24 in all: fine
    info = store(tmp_path).save(near, "near.gif", 64, 32)
    assert (info.frames, info.source_width) == (2, 16)


def test_the_pixel_limit_is_per_frame_and_the_budget_over_all_frames(tmp_path: Path) -> None:
    medium = images_util.gif_bomb(100, frames=4)  # five frames: 16x16, then 100x100
    with pytest.raises(ImageError, match="frame 1 is 100x100"):
        store(tmp_path, max_pixels=9_999).save(medium, "m.gif", 64, 32)
    # 10,000 pixels per frame is allowed, 4 x 10,000 over all frames is not.
    with pytest.raises(ImageError, match="all frames") as exc:
        store(tmp_path, max_pixels=10_000).save(medium, "m.gif", 64, 32)
    assert exc.value.details == {"frame": 4, "frames": 5}
    assert store(tmp_path, max_pixels=20_000).save(medium, "m.gif", 64, 32).frames == 5


def test_pillow_bomb_limit_is_set_for_the_decode_only(tmp_path: Path) -> None:
    before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(ImageError):
        store(tmp_path, max_pixels=100).save(images_util.png(size=(20, 20)), "a.png", 64, 32)
    store(tmp_path).save(images_util.png(), "a.png", 64, 32)
    assert before == Image.MAX_IMAGE_PIXELS


def test_frame_delays_are_clamped_for_gif_and_apng(tmp_path: Path) -> None:
    assert [clamp_frame_ms(ms) for ms in (None, 0, 10, 19.9, 20, 1234.4, 60_000, 6.5e7,
                                          float("nan"), float("inf"))] == \
        [100, 100, 100, 100, 20, 1234, 60_000, 60_000, 100, 100]
    apng = images_util.apng([(255, 0, 0), (0, 255, 0)], [(65535, 1), (3, 100)])
    info = store(tmp_path).save(apng, "a.png", 64, 32)
    assert info.durations_ms == [60_000, 30]
    gif = images_util.gif([(255, 0, 0), (0, 255, 0)], [655_350, 0])
    assert store(tmp_path).save(gif, "a.gif", 64, 32).durations_ms == [60_000, 100]


# ---------------------------------------------------------------- the engine's side

def plant(s: ImageStore, frames: np.ndarray, durations_ms: list[int]) -> str:
    """Put an image in the folder the way an older version (or anyone) might have."""
    image_id = "0123456789abcdef"
    s.directory.mkdir(parents=True, exist_ok=True)
    np.save(s.directory / f"{image_id}.npy", frames, allow_pickle=False)
    (s.directory / f"{image_id}.png").write_bytes(images_util.png())
    meta = {"id": image_id, "name": "old", "width": frames.shape[2], "height": frames.shape[1],
            "frames": len(frames), "durations_ms": durations_ms, "source_format": "GIF",
            "source_width": 1, "source_height": 1, "created": "2026-01-01T00:00:00Z",
            "bytes": 1}
    (s.directory / f"{image_id}.json").write_text(json.dumps(meta))
    return image_id


def test_the_engine_clamps_delays_of_images_already_in_the_folder(tmp_path: Path) -> None:
    s = store(tmp_path)
    image_id = plant(s, np.zeros((2, 32, 64, 3), np.uint8), [65_535_000, 5])
    _, durations = s.frames(image_id, 64, 32)
    assert durations == [60.0, 0.1]
    assert s.get(image_id).as_dict()["duration_ms"] == 60_100  # what GET /api/images lists


def test_the_engine_refuses_stored_frames_over_the_limits(tmp_path: Path) -> None:
    image_id = plant(store(tmp_path), np.zeros((1, 200, 200, 3), np.uint8), [0])
    with pytest.raises(UnknownImageError):
        store(tmp_path, max_pixels=10_000).frames(image_id, 64, 32)
    image_id = plant(store(tmp_path), np.zeros((301, 2, 2, 3), np.uint8), [100] * 301)
    with pytest.raises(UnknownImageError):
        store(tmp_path, max_frames=300).frames(image_id, 64, 32)
    image_id = plant(store(tmp_path), np.zeros((2, 32, 64, 4), np.uint8), [100, 100])
    with pytest.raises(UnknownImageError):
        store(tmp_path).frames(image_id, 64, 32)


# ---------------------------------------------------------------- ids and the quota

@pytest.mark.parametrize("bad", ["0123456789abcdef\n", "0123456789abcdef\r\n",
                                 "\n0123456789abcdef", "0123456789abcdef\x00",
                                 "0123456789abcdef ", "0123456789abcdef0"])
def test_ids_with_trailing_characters_are_refused(tmp_path: Path, bad: str) -> None:
    assert not valid_id(bad)
    s = store(tmp_path)
    info = s.save(images_util.png(), "a.png", 64, 32)
    planted = s.directory / f"{info.id}\n.json"
    planted.write_bytes((s.directory / f"{info.id}.json").read_bytes())
    with pytest.raises(UnknownImageError):
        s.delete(info.id + "\n")
    with pytest.raises(UnknownImageError):
        s.frames(info.id + "\n", 64, 32)
    assert planted.exists()


def test_quota_counts_images_and_bytes_and_writes_nothing_when_full(tmp_path: Path) -> None:
    s = store(tmp_path, max_count=2)
    for c in (1, 2):
        s.save(images_util.png((c, 0, 0)), "a.png", 64, 32)
    names = sorted(p.name for p in s.directory.iterdir())
    with pytest.raises(ImageError) as exc:
        s.save(images_util.png((3, 0, 0)), "a.png", 64, 32)
    assert exc.value.code == "images_full" and "2 images" in exc.value.message
    assert sorted(p.name for p in s.directory.iterdir()) == names
    t = ImageStore(tmp_path / "small", Limits(max_total_bytes=15_000))
    t.save(images_util.png(), "a.png", 64, 32)  # about 6.6 kB: frames, a PNG, metadata
    t.save(images_util.png(), "a.png", 64, 32)
    with pytest.raises(ImageError, match="images_max_mb"):
        t.save(images_util.png(), "a.png", 64, 32)
    assert t.usage()[0] == 2


def test_a_failed_write_leaves_no_half_image(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    s = store(tmp_path)
    real = images_mod.atomic_write
    calls: list[Path] = []

    def disk_full_on_the_second_file(path: Path, data: bytes, mode: int = 0o640) -> None:
        calls.append(path)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, data, mode)

    monkeypatch.setattr(images_mod, "atomic_write", disk_full_on_the_second_file)
    with pytest.raises(ImageError) as exc:
        s.save(images_util.png(), "a.png", 64, 32)
    assert exc.value.code == "storage_full"
    assert list(s.directory.iterdir()) == []


def test_a_phone_photo_jpeg_counts_at_its_decoded_size(tmp_path: Path) -> None:
    out = io.BytesIO()
    Image.new("RGB", (4896, 3264), (200, 40, 10)).save(out, format="JPEG")  # 16 Mpx
    info = store(tmp_path).save(out.getvalue(), "photo.jpg", 64, 32)
    assert (info.source_width, info.source_height) == (4896, 3264)
    frames, _ = store(tmp_path).frames(info.id, 64, 32)
    assert abs(int(frames[0, 16, 32, 0]) - 200) < 8
    big_png = images_util.png(size=(4000, 2001))  # the same limit holds a PNG to 8 Mpx
    with pytest.raises(ImageError, match="more than 8000000 pixels"):
        store(tmp_path).save(big_png, "big.png", 64, 32)


def test_every_file_of_an_image_is_flushed_to_disk_with_its_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The image store writes through the one atomic writer: fsync of each file, then of
    # the folder after the rename, so a power cut leaves the old state or the new one.
    real_fsync = os.fsync
    synced: list[str] = []

    def recording_fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    s = store(tmp_path)
    info = s.save(images_util.png(), "a.png", 64, 32)
    folder = str(s.directory)
    assert synced.count(folder) == 3  # one rename per file: .npy, .png, .json
    files = [p for p in synced if p != folder]
    assert len(files) == 3 and all(Path(p).parent == s.directory for p in files)
    assert sorted(p.name for p in s.directory.iterdir()) == sorted(
        f"{info.id}{suffix}" for suffix in (".json", ".npy", ".png"))
    assert all(oct(p.stat().st_mode & 0o777) == "0o644" for p in s.directory.iterdir())


def test_an_unknown_image_names_its_parameter_without_being_an_animation_error() -> None:
    # The store imports no animation module, so its error is not animations.ParamError;
    # it still names the parameter the way one does.
    exc = UnknownImageError("0123456789abcdef")
    assert (exc.field, exc.message) == ("image", "unknown image '0123456789abcdef'")
    assert str(exc) == "image: unknown image '0123456789abcdef'"
    assert isinstance(exc, ValueError) and exc.image_id == "0123456789abcdef"


def test_the_engine_boots_its_default_when_the_saved_image_was_deleted(tmp_path: Path) -> None:
    from animations import REGISTRY
    from appliance.display.virtual import VirtualDisplay
    from appliance.render.clock import FakeClock
    from appliance.render.engine import Engine
    from appliance.settings import validate

    settings = validate({"device_id": "unit", "bridge": {"images_dir": str(tmp_path)},
                         "animation": {"default": "breathe"}})
    eng = Engine(settings, VirtualDisplay(16, 8), REGISTRY, clock=FakeClock())
    eng.start({"effect": "image", "params": {"image": "0123456789abcdef"}})
    assert eng.supervisor.requested is not None and eng.supervisor.requested.name == "breathe"
