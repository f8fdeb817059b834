"""Golden frames: galaxy, fire and fireworks draw the same pixels as before their speed-ups.

The hashes were recorded from the code before the CPU-budget work (issue 19) for a
fixed seed, at two panel sizes and an odd one, default and non-default parameters,
over four seconds of frames and some jumps in ``t`` (forward, back, huge). A faster
animation must hash the same: same pixels, not just similar ones.

numpy's float32 maths (sin, exp) takes a SIMD path chosen at run time for the CPU
(AVX2, AVX-512, ...), and each path rounds a little differently: the same code hashed
differently on two x86_64 machines. So the frames are drawn in a child process with
every run-time SIMD path turned off (``NPY_DISABLE_CPU_FEATURES``): numpy's baseline
code, the same on every x86_64 CPU. The hashes are checked only on the architecture
and numpy minor version they were recorded with.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from animations import REGISTRY
from appliance.render.frame import FrameGuard

RECORDED_ON = ("x86_64", "2.4")
CASES: list[tuple[str, dict[str, object]]] = [
    ("galaxy", {}),
    ("galaxy", {"arms": 3, "twist": 7.5, "tilt": 0.4, "stars": 400, "speed": 3.0}),
    ("fire", {}),
    ("fire", {"palette": "blue", "speed": 2.6, "height": 1.3, "brightness": 0.6}),
    ("fireworks", {}),
    ("fireworks", {"rate": 3.0, "size": 1.7, "gravity": 2.5, "sparkle": False}),
]
SIZES = ((64, 32), (128, 64), (17, 9))
TIMES = [i / 30 for i in range(120)] + [7.3, 55.0, 1234.5, 0.4, 0.45, 1e7, 1e7 + 1 / 30]
#: (index into CASES, size): the hash.
GOLDEN = {
    (0, "64x32"): "348b478754308ab0",
    (0, "128x64"): "267655b2b9ce9cfc",
    (0, "17x9"): "654c5c514e86a636",
    (1, "64x32"): "d44f8f93ebef8b6d",
    (1, "128x64"): "2d93c5d4abae5d0c",
    (1, "17x9"): "c0c6ba7968233fbf",
    (2, "64x32"): "d99d5daf91c51563",
    (2, "128x64"): "a987fc4150ac9f1d",
    (2, "17x9"): "2bd7b89c7f78ac85",
    (3, "64x32"): "20adb85d9138d28e",
    (3, "128x64"): "b19c254b8746717e",
    (3, "17x9"): "0fd720ab3d012560",
    (4, "64x32"): "62d1f295d24e6369",
    (4, "128x64"): "9f041fcf8b905b39",
    (4, "17x9"): "d0b6af80537a591b",
    (5, "64x32"): "f17e00059ab2439c",
    (5, "128x64"): "6bd6eda6b391fcc0",
    (5, "17x9"): "d0082d5f76c542e3",
}


def frames_hash(name: str, params: dict[str, object], w: int, h: int) -> str:
    """sha256 (16 hex digits) of the guarded frames at TIMES for seed 7."""
    anim = REGISTRY.create(name, w, h, params, seed=7)
    guard = FrameGuard(w, h)
    dig = hashlib.sha256()
    for t in TIMES:
        dig.update(guard(anim.draw(t)).tobytes())
    return dig.hexdigest()[:16]


def baseline_hashes() -> dict[str, str]:
    """Every case's hash, drawn by a child with numpy's run-time SIMD dispatch off."""
    from numpy._core import _multiarray_umath as umath

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "NPY_DISABLE_CPU_FEATURES": " ".join(umath.__cpu_dispatch__),
           "PYTHONPATH": str(root)}
    code = ("import json; from tests.unit.test_animation_golden import CASES, SIZES, frames_hash;"
            "print(json.dumps({f'{c} {w}x{h}': frames_hash(*CASES[c], w, h)"
            " for c in range(len(CASES)) for w, h in SIZES}))")
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=root, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    hashes: dict[str, str] = json.loads(done.stdout)
    return hashes


@pytest.fixture(scope="module")
def drawn() -> dict[str, str]:
    return baseline_hashes()


@pytest.mark.skipif(
    (platform.machine(), ".".join(np.__version__.split(".")[:2])) != RECORDED_ON,
    reason=f"golden hashes recorded on {RECORDED_ON} (float rounding may differ elsewhere)")
@pytest.mark.parametrize("case", range(len(CASES)))
@pytest.mark.parametrize(("w", "h"), SIZES)
def test_frames_are_the_same_as_before(drawn: dict[str, str], case: int, w: int, h: int) -> None:
    name, params = CASES[case]
    assert drawn[f"{case} {w}x{h}"] == GOLDEN[(case, f"{w}x{h}")], (name, params)
