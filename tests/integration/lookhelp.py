"""Helpers for the preset and playlist integration tests: restart an engine in place, read
colours from the virtual panel and the preview stream."""

from __future__ import annotations

import json

import numpy as np

from tests.support import LightboxProcess, MQTTProbe


def restart(eng: LightboxProcess, p: MQTTProbe, base: str, **animation: str) -> None:
    """Stop the engine cleanly and start it again in the same folder (settings edited with
    ``animation`` keys first), waiting until it is online again."""
    assert eng.stop() == 0, eng.log_tail()
    if animation:
        settings = json.loads(eng.settings_path.read_text())
        settings.setdefault("animation", {}).update(animation)
        eng.settings_path.write_text(json.dumps(settings))
    eng.snapshot_path.unlink(missing_ok=True)
    mark = p.mark()
    eng.start()
    try:
        p.wait_for(f"{base}/status", lambda v: v == "online", timeout_s=20, since=mark)
    except TimeoutError:
        raise AssertionError(f"engine did not come back:\n{eng.log_tail()}") from None


def all_of(frame: np.ndarray | None, rgb: tuple[int, int, int]) -> bool:
    """The whole frame is ``rgb``."""
    return frame is not None and bool((frame == rgb).all())


def previews(p: MQTTProbe, base: str, since: int) -> list[np.ndarray]:
    """Preview frames (64x32 RGB) seen since ``since``."""
    out = []
    for m in p.messages[since:]:
        if m.topic == f"{base}/preview" and len(m.payload) == 64 * 32 * 3:
            out.append(np.frombuffer(m.payload, np.uint8).reshape(32, 64, 3))
    return out
