"""The colour choke point: whatever an animation returns, displays get safe bytes or a FrameError.

A hostile animation, registered on a private Registry, returns every kind of
bad pixels; FrameGuard must make the numeric ones exact, safe uint8 frames and
reject the rest.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from animations import Animation, Param, Registry
from appliance.render.frame import FrameError, FrameGuard, safe_frame

W, H = 4, 2
NAN, INF = float("nan"), float("inf")

# One row of five pixels per case: what the animation returns -> the exact bytes expected.
NUMERIC_CASES: dict[str, tuple[np.ndarray, list[int]]] = {
    "float32_specials": (
        np.array([NAN, INF, -INF, 300.0, -5.0, 254.9, 0.5, 128.0], np.float32),
        [0, 255, 0, 255, 0, 254, 0, 128],
    ),
    "float64_huge": (
        np.array([1e300, -1e300, NAN, INF, -INF, 3.4e38, 255.0, 1.0], np.float64),
        [255, 0, 0, 255, 0, 255, 255, 1],
    ),
    "float16": (
        np.array([NAN, INF, -INF, 300.0, -5.0, 65504.0, 7.0, 0.0], np.float16),
        [0, 255, 0, 255, 0, 255, 7, 0],
    ),
    "int64": (
        np.array([300, -5, 2**40, -(2**40), 7, 255, 256, 0], np.int64),
        [255, 0, 255, 0, 7, 255, 255, 0],
    ),
    "int8": (np.array([-128, -1, 0, 1, 127, 5, -5, 64], np.int8), [0, 0, 0, 1, 127, 5, 0, 64]),
    "uint16": (
        np.array([65535, 256, 255, 0, 1, 1000, 128, 300], np.uint16),
        [255, 255, 255, 0, 1, 255, 128, 255],
    ),
    "uint64": (
        np.array([2**64 - 1, 0, 10, 255, 256, 1, 2, 3], np.uint64),
        [255, 0, 10, 255, 255, 1, 2, 3],
    ),
    "bool": (
        np.array([True, False, True, True, False, False, True, False]),
        [255, 0, 255, 255, 0, 0, 255, 0],
    ),
    "uint8": (
        np.array([0, 1, 2, 3, 252, 253, 254, 255], np.uint8),
        [0, 1, 2, 3, 252, 253, 254, 255],
    ),
}


def as_frame(values: np.ndarray) -> np.ndarray:
    """Spread 8 values over a 4x2 panel: pixel i gets value i in all three channels."""
    return np.repeat(values.reshape(H, W, 1), 3, axis=2)


BAD_CASES: dict[str, Any] = {
    "none": None,
    "list": [[[0, 0, 0]] * W] * H,
    "scalar": 3.0,
    "numpy_scalar": np.float32(1.0),
    "2d": np.zeros((H, W), np.uint8),
    "4_channels": np.zeros((H, W, 4), np.uint8),
    "transposed_shape": np.zeros((W, H, 3), np.uint8),
    "extra_axis": np.zeros((H, W, 3, 1), np.uint8),
    "empty": np.zeros((0, 0, 3), np.uint8),
    "object": np.full((H, W, 3), None, object),
    "object_numbers": np.full((H, W, 3), 1, object),
    "complex": np.zeros((H, W, 3), np.complex64),
    "strings": np.full((H, W, 3), "x"),
    "bytes": np.full((H, W, 3), b"x"),
    "datetime": np.zeros((H, W, 3), "datetime64[s]"),
    "timedelta": np.zeros((H, W, 3), "timedelta64[s]"),
    "structured": np.zeros((H, W, 3), [("a", np.uint8)]),
}

HOSTILE_MODES = tuple(NUMERIC_CASES) + tuple(BAD_CASES)


class Hostile(Animation):
    """Returns whatever its ``mode`` says, however wrong."""

    name = "hostile"
    title = "Hostile"
    category = "test"
    params = (
        Param("mode", "choice", "float32_specials", choices=HOSTILE_MODES, help="What to return"),
    )

    def draw(self, t: float) -> Any:
        mode = self.p["mode"]
        if mode in NUMERIC_CASES:
            return as_frame(NUMERIC_CASES[mode][0])
        return BAD_CASES[mode]


@pytest.fixture(scope="module")
def registry() -> Registry:
    reg = Registry()
    reg.register(Hostile)
    return reg


def check_frame(frame: np.ndarray) -> None:
    assert frame.dtype == np.uint8
    assert frame.shape == (H, W, 3)
    assert frame.flags.c_contiguous


@pytest.mark.parametrize("mode", sorted(NUMERIC_CASES))
def test_numeric_frames_become_exact_safe_bytes(registry: Registry, mode: str) -> None:
    anim = registry.create("hostile", W, H, {"mode": mode})
    with np.errstate(all="raise"):  # the guard must not trip numpy warnings either
        out = FrameGuard(W, H)(anim.draw(0.0))
    check_frame(out)
    expected = as_frame(np.array(NUMERIC_CASES[mode][1], np.uint8))
    assert out.tobytes() == expected.tobytes()


@pytest.mark.parametrize("mode", sorted(BAD_CASES))
def test_non_frames_are_rejected(registry: Registry, mode: str) -> None:
    anim = registry.create("hostile", W, H, {"mode": mode})
    with pytest.raises(FrameError):
        FrameGuard(W, H)(anim.draw(0.0))


def test_rejections_say_what_was_wrong() -> None:
    guard = FrameGuard(W, H)
    with pytest.raises(FrameError, match="not a numpy array"):
        guard([1, 2, 3])
    with pytest.raises(FrameError, match=r"does not match panel \(2, 4, 3\)"):
        guard(np.zeros((4, 2, 3)))
    with pytest.raises(FrameError, match="not numeric"):
        guard(np.full((H, W, 3), None, object))


@pytest.mark.parametrize(
    "make",
    [
        lambda a: np.asfortranarray(a),
        lambda a: np.ascontiguousarray(a.transpose(2, 0, 1)).transpose(1, 2, 0),
        lambda a: np.repeat(a, 2, axis=1)[:, ::2],
        lambda a: a[::-1, ::-1][::-1, ::-1],
        lambda a: np.broadcast_to(a[:1, :1], a.shape),
    ],
    ids=["fortran", "planar_view", "strided", "reversed_view", "broadcast"],
)
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64, np.int32, bool])
def test_any_memory_layout_gives_a_contiguous_frame(make: Any, dtype: Any) -> None:
    base = (np.arange(H * W * 3).reshape(H, W, 3) * 11 % 256).astype(dtype)
    pixels = make(base)
    out = FrameGuard(W, H)(pixels)
    check_frame(out)
    reference = np.clip(np.asarray(pixels, np.float64) * (255 if dtype is bool else 1), 0, 255)
    assert np.array_equal(out, reference.astype(np.uint8))


def test_guard_leaves_the_input_alone_and_reuses_its_buffer() -> None:
    guard = FrameGuard(W, H)
    pixels = np.full((H, W, 3), 300.0, np.float32)
    first = guard(pixels)
    assert (pixels == 300.0).all()
    second = guard(np.zeros((H, W, 3), np.uint8))
    assert second is first and not second.any()
    fresh = safe_frame(pixels, W, H)
    assert fresh is not guard(pixels) and (fresh == 255).all()


@pytest.mark.parametrize(("w", "h"), [(1, 1), (7, 3), (128, 64)])
def test_odd_sizes(w: int, h: int) -> None:
    out = FrameGuard(w, h)(np.full((h, w, 3), -1e9))
    assert out.shape == (h, w, 3) and not out.any()


SPECIALS = [NAN, INF, -INF, 255.5, 256.0, -0.5, 0.999, 254.999]


@st.composite
def float_frames(draw: st.DrawFn) -> np.ndarray:
    """Float frames of every width, rich in NaN, infinities and values near the edges."""
    dtype, floats = draw(st.sampled_from([
        (np.float16, st.floats(width=16)),
        (np.float32, st.floats(width=32)),
        (np.float64, st.floats(width=64)),
    ]))
    elements = st.one_of(floats, st.sampled_from(SPECIALS))
    return draw(hnp.arrays(dtype=dtype, shape=(H, W, 3), elements=elements))


@settings(max_examples=150, deadline=None)
@given(pixels=float_frames())
def test_float_frames_clip_truncate_and_map_specials(pixels: np.ndarray) -> None:
    out = FrameGuard(W, H)(pixels)
    check_frame(out)
    with np.errstate(over="ignore", invalid="ignore"):
        f = pixels.astype(np.float32)
    f = np.nan_to_num(f, nan=0.0, posinf=255.0, neginf=0.0)
    expected = np.floor(np.clip(f, 0.0, 255.0)).astype(np.uint8)
    assert np.array_equal(out, expected)


@settings(max_examples=150, deadline=None)
@given(
    pixels=hnp.arrays(
        dtype=st.sampled_from([np.int8, np.int16, np.int32, np.int64, np.uint16, np.uint32,
                               np.uint64]),
        shape=(H, W, 3),
    )
)
def test_integer_frames_clip(pixels: np.ndarray) -> None:
    out = FrameGuard(W, H)(pixels)
    check_frame(out)
    expected = [min(max(int(v), 0), 255) for v in pixels.ravel().tolist()]
    assert out.ravel().tolist() == expected
