"""The image store and the image animation without any process: decoding, limits, timing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from animations.image import ImageAnimation
from appliance.images import ImageError, ImageStore, Limits, UnknownImageError, clean_name
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
