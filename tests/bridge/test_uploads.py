"""Uploads against the real bridge and engine: valid pictures play, bad ones are refused."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.broker import LocalBroker
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
