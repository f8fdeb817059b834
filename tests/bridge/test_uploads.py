"""Uploads against the real bridge and engine: valid pictures play, bad ones are refused."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from appliance.ops.broker import LocalBroker
from tests.bridge import images_util
from tests.bridge.conftest import Stack, start_stack, unique_id
from tests.support import wait_until

pytestmark = pytest.mark.integration

MAX_BYTES = 200_000


@pytest.fixture(scope="module")
def up(broker: LocalBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = start_stack(broker, tmp_path_factory.mktemp("uploads"), unique_id("img"),
                    bridge={"upload_max_bytes": MAX_BYTES})
    yield s
    s.stop()


def upload(stack: Stack, data: bytes, filename: str = "pic.png",
           content_type: str = "application/octet-stream") -> dict:
    r = stack.session.post(f"{stack.url}/api/images",
                           files={"file": (filename, data, content_type)}, timeout=20)
    return {"status": r.status_code, "body": r.json(), "headers": r.headers}


def panel_colour(stack: Stack) -> tuple[int, ...] | None:
    frame = stack.engine.panel()
    if frame is None:
        return None
    return tuple(int(v) for v in frame[frame.shape[0] // 2, frame.shape[1] // 2])


def test_png_uploads_lists_and_plays_on_the_panel(up: Stack) -> None:
    res = upload(up, images_util.png((0, 200, 0)), "green.png", "image/png")
    assert res["status"] == 201, res
    info = res["body"]
    assert re.fullmatch(r"[0-9a-f]{16}", info["id"])
    assert (info["width"], info["height"], info["frames"]) == (64, 32, 1)
    assert res["headers"]["Location"] == f"/api/images/{info['id']}"
    listed = up.get("/api/images").json()["images"]
    assert info["id"] in [i["id"] for i in listed]
    pic = up.get(info["url"])
    assert pic.status_code == 200 and pic.headers["Content-Type"] == "image/png"
    r = up.post("/api/animation", {"name": "image", "params": {"image": info["id"]}})
    assert r.status_code == 200, r.text
    assert r.json()["state"]["params"]["image"] == info["id"]
    brightness = up.get("/api/state").json()["brightness"]
    assert brightness > 0
    wait_until(lambda: (c := panel_colour(up)) is not None and c[1] > 100 and c[0] < 30, 10,
               message="the picture on the virtual panel")


def test_animated_gif_keeps_its_timing_and_plays(up: Stack) -> None:
    data = images_util.gif([(255, 0, 0), (0, 0, 255)], [200, 500])
    res = upload(up, data, "anim.gif", "image/gif")
    assert res["status"] == 201, res
    assert res["body"]["frames"] == 2 and res["body"]["durations_ms"] == [200, 500]
    assert res["body"]["source_format"] == "GIF"
    r = up.post("/api/animation", {"name": "image", "params": {"image": res["body"]["id"]}})
    assert r.status_code == 200
    seen: set[str] = set()

    def both_frames_shown() -> bool:
        c = panel_colour(up)
        if c is not None:
            seen.add("red" if c[0] > 100 else "blue" if c[2] > 100 else "other")
        return {"red", "blue"} <= seen

    wait_until(both_frames_shown, 10, 0.05, "both GIF frames on the panel")


def test_renamed_text_file_is_refused_by_content(up: Stack) -> None:
    res = upload(up, images_util.text_file(), "cat.png", "image/png")
    assert res["status"] == 415 and res["body"]["error"]["code"] == "unsupported_media_type"


def test_oversized_file_is_413(up: Stack) -> None:
    big = images_util.png() + b"\0" * (MAX_BYTES + 10)
    res = upload(up, big, "big.png", "image/png")
    assert res["status"] == 413 and res["body"]["error"]["code"] == "too_large"
    huge = b"\0" * (MAX_BYTES + 200_000)
    res = upload(up, huge, "huge.png", "image/png")
    assert res["status"] == 413


def test_decompression_bomb_and_absurd_dimensions_are_refused(up: Stack) -> None:
    bomb = images_util.bomb(20000)
    assert len(bomb) < MAX_BYTES
    res = upload(up, bomb, "bomb.png", "image/png")
    assert res["status"] == 422 and res["body"]["error"]["code"] == "image_too_large"
    wide = images_util.png(size=(9000, 2))
    res = upload(up, wide, "wide.png", "image/png")
    assert res["status"] == 422


def test_path_traversal_file_name_is_only_a_label(up: Stack, tmp_path: Path) -> None:
    res = upload(up, images_util.png((1, 2, 3)), "../../../../tmp/evil.png", "image/png")
    assert res["status"] == 201
    assert res["body"]["name"] == "evil.png"
    assert not Path("/tmp/evil.png").exists()
    for f in up.images_dir.iterdir():
        assert re.fullmatch(r"[0-9a-f]{16}\.(json|png|npy)", f.name), f.name
    r = up.session.post(f"{up.url}/api/images", data=images_util.png(),
                        headers={"Content-Type": "image/png", "X-Filename": "..\\..\\x.png"},
                        timeout=10)
    assert r.status_code == 201 and r.json()["name"] == "x.png"


def test_delete_and_unknown_ids(up: Stack) -> None:
    res = upload(up, images_util.png((9, 9, 9)), "gone.png")
    image_id = res["body"]["id"]
    r = up.send("DELETE", f"/api/images/{image_id}")
    assert r.status_code == 200 and r.json() == {"deleted": image_id}
    assert up.send("DELETE", f"/api/images/{image_id}").status_code == 404
    assert up.get(f"/api/images/{image_id}").status_code == 404
    assert up.get("/api/images/..%2F..%2Fetc%2Fpasswd").status_code == 404
    assert up.send("DELETE", "/api/images/not-an-id").status_code == 404
    r = up.post("/api/animation", {"name": "image", "params": {"image": image_id}})
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_image"
    r = up.session.post(f"{up.url}/api/images", files={"other": ("a.png", b"x")}, timeout=10)
    assert r.status_code == 400 and r.json()["error"]["code"] == "missing_file"


# ---------------------------------------------------------------- frames larger than the header

def peak_rss_mb(stack: Stack) -> float:
    """The bridge process's peak resident set so far (VmHWM), in MB."""
    assert stack.bridge.process is not None
    status = Path(f"/proc/{stack.bridge.process.pid}/status").read_text()
    kb = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
    assert kb is not None, status
    return int(kb.group(1)) / 1024


def stored_files(stack: Stack) -> list[str]:
    d = stack.images_dir
    return sorted(f.name for f in d.iterdir()) if d.is_dir() else []


def test_gif_bomb_with_a_frame_larger_than_its_screen_is_refused_in_bounded_memory(
        stack_factory: Callable[..., Stack]) -> None:
    s = stack_factory("bomb")  # default upload limits (4 MiB, 8 Mpx a frame), fresh bridge
    bomb = images_util.gif_bomb(8192)  # 16x16 screen, second frame 8192x8192
    assert len(bomb) < 60_000
    upload(s, images_util.png(), "warm.png", "image/png")  # page in the upload path
    before = peak_rss_mb(s)
    t0 = time.monotonic()
    res = upload(s, bomb, "bomb.gif", "image/gif")
    took = time.monotonic() - t0
    after = peak_rss_mb(s)
    print(f"\nGIF bomb: {res['status']} in {took:.2f} s; bridge peak RSS "
          f"{before:.0f} -> {after:.0f} MB (+{after - before:.0f} MB)")
    assert res["status"] == 422, res
    err = res["body"]["error"]
    assert err["code"] == "image_too_large"
    assert "frame 1" in err["message"] and "8192x8192" in err["message"], err
    assert after - before < 120, (before, after)
    # 78 such frames (3.9 MB): refused at the first huge one, in the same bounded memory.
    t0 = time.monotonic()
    res = upload(s, images_util.gif_bomb(8192, frames=78), "bombs.gif", "image/gif")
    took = time.monotonic() - t0
    after = peak_rss_mb(s)
    print(f"78 huge frames: {res['status']} in {took:.2f} s; bridge peak RSS "
          f"{before:.0f} -> {after:.0f} MB (+{after - before:.0f} MB)")
    assert res["status"] == 422 and "frame 1" in res["body"]["error"]["message"], res
    assert after - before < 120, (before, after)
    # The worst accepted picture (4 RGBA frames of 8 Mpx each, an APNG) stays bounded too.
    side = 2828  # 2828 x 2828 < 8,000,000 pixels
    worst = images_util.apng([(255, 0, 0), (0, 255, 0), (0, 0, 255), (9, 9, 9)],
                             [(1, 10)] * 4, size=(side, side))
    res = upload(s, worst, "worst.png", "image/png")
    after = peak_rss_mb(s)
    print(f"worst accepted APNG: {res['status']}; bridge peak RSS {before:.0f} -> "
          f"{after:.0f} MB (+{after - before:.0f} MB)")
    assert res["status"] == 201, res
    assert after - before < 120, (before, after)
    assert s.bridge.alive()
    assert len(stored_files(s)) == 6  # the warm-up picture's three files, the APNG's three


def test_many_frames_over_the_decoding_budget_are_refused(up: Stack) -> None:
    before = stored_files(up)
    # Each frame is under the pixel limit, all of them together is far too much work.
    many_medium = images_util.gif_bomb(2000, frames=40)
    assert len(many_medium) < MAX_BYTES
    res = upload(up, many_medium, "medium.gif", "image/gif")
    assert res["status"] == 422, res
    assert res["body"]["error"]["code"] == "image_too_large"
    assert "all frames" in res["body"]["error"]["message"]
    assert stored_files(up) == before


def test_absurd_frame_delays_are_clamped(up: Stack) -> None:
    data = images_util.apng([(255, 0, 0), (0, 0, 255), (0, 255, 0)],
                            [(65535, 1), (1, 1000), (1, 10)])
    res = upload(up, data, "slow.png", "image/png")
    assert res["status"] == 201, res
    assert res["body"]["durations_ms"] == [60_000, 100, 100]
    gif = images_util.gif([(255, 0, 0), (0, 0, 255)], [655_350, 250])
    res = upload(up, gif, "slow.gif", "image/gif")
    assert res["status"] == 201, res
    assert res["body"]["durations_ms"] == [60_000, 250]
    stored = up.get(f"/api/images/{res['body']['id']}")
    assert stored.status_code == 200


# ---------------------------------------------------------------- quota on the images folder

def test_images_folder_quota_count_and_bytes(stack_factory: Callable[..., Stack]) -> None:
    s = stack_factory("quota", bridge={"images_max_count": 2})
    ids = [upload(s, images_util.png((i, 0, 0)), f"{i}.png")["body"]["id"] for i in (1, 2)]
    files = stored_files(s)
    res = upload(s, images_util.png((3, 0, 0)), "3.png")
    assert res["status"] == 507, res
    assert res["body"]["error"]["code"] == "images_full"
    assert "2 images" in res["body"]["error"]["message"]
    assert stored_files(s) == files  # nothing half-written
    assert s.send("DELETE", f"/api/images/{ids[0]}").status_code == 200
    assert upload(s, images_util.png((3, 0, 0)), "3.png")["status"] == 201

    t = stack_factory("quotamb", bridge={"images_max_mb": 1})
    frames = 200  # 200 panel frames of 64x32x3 bytes: more than 1 MB on disk
    many = images_util.gif([(i, i, i) for i in range(frames)], [100] * frames)
    res = upload(t, many, "many.gif", "image/gif")
    assert res["status"] == 507, res
    assert res["body"]["error"]["code"] == "images_full"
    assert "MB" in res["body"]["error"]["message"]
    assert stored_files(t) == []
    assert upload(t, images_util.png(), "small.png")["status"] == 201


# ---------------------------------------------------------------- ids with a trailing newline

def test_ids_with_a_trailing_newline_never_reach_a_file(up: Stack) -> None:
    image_id = upload(up, images_util.png((4, 5, 6)), "keep.png")["body"]["id"]
    # Plant files whose names end in a newline: a lax id check would serve and delete them.
    planted = [up.images_dir / f"{image_id}\n{suffix}" for suffix in (".json", ".png", ".npy")]
    real_meta = (up.images_dir / f"{image_id}.json").read_bytes()
    planted[0].write_bytes(real_meta)
    planted[1].write_bytes(b"planted")
    planted[2].write_bytes(b"planted")
    try:
        for suffix in ("%0A", "%0a", "%0D%0A", "%0D", "%00", "%20"):
            assert up.get(f"/api/images/{image_id}{suffix}").status_code == 404, suffix
            r = up.send("DELETE", f"/api/images/{image_id}{suffix}")
            assert r.status_code == 404, (suffix, r.text)
            r = up.post("/api/animation", {"name": "image",
                                           "params": {"image": f"{image_id}\n"}})
            assert r.status_code in (404, 422), r.text
        assert all(p.exists() for p in planted)
        assert up.get(f"/api/images/{image_id}").status_code == 200
    finally:
        for p in planted:
            p.unlink(missing_ok=True)


def test_the_engine_holds_files_already_in_the_folder_to_the_upload_limits(up: Stack) -> None:
    """A file that never went through an upload (older version, restored backup, anyone)."""
    image_id = upload(up, images_util.png((7, 7, 7)), "seed.png")["body"]["id"]
    meta = json.loads((up.images_dir / f"{image_id}.json").read_text())
    planted = "fedcba9876543210"
    frames = np.zeros((301, 32, 64, 3), np.uint8)  # upload_max_frames is 300
    np.save(up.images_dir / f"{planted}.npy", frames, allow_pickle=False)
    (up.images_dir / f"{planted}.png").write_bytes(images_util.png())
    meta.update(id=planted, frames=301, durations_ms=[100] * 301)
    (up.images_dir / f"{planted}.json").write_text(json.dumps(meta))
    try:
        r = up.post("/api/animation", {"name": "image", "params": {"image": planted}})
        assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_image", r.text
        assert up.engine.alive()
    finally:
        up.send("DELETE", f"/api/images/{planted}")
