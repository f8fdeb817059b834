"""Every registered animation, the registry's validation and the animation helpers.

Property-based: each animation is rendered with random valid parameters, at
random times (zero, negative, huge, backwards) and sizes from 1x1 to 128x64,
through the real colour choke point.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from animations import REGISTRY, Animation, Param, ParamError, Registry, RegistryError
from animations.base import GROUPS, UnknownAnimationError, parse_colour
from animations.common import Splat, Stepper, periodic_noise, wrap
from animations.font import FONT_3X5, FONT_5X7, FONT_6X13, blit
from animations.life import Life
from appliance.render.frame import FrameGuard

SIZES = [(1, 1), (7, 3), (8, 8), (64, 32), (64, 64), (128, 64)]
NAMES = REGISTRY.names()
BUILTIN_EFFECTS = {
    "starfield", "nebula", "comet", "galaxy", "rainbow", "fire", "matrix", "life", "clock",
    "text", "fireworks", "ripples", "aurora", "balls",
}
EPOCH = 1_700_000_000.0

PROPERTY = settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# ---------------------------------------------------------------------- strategies
def param_strategy(p: Param) -> st.SearchStrategy[Any]:
    """Return values that ``p`` must accept, in every form the wire may carry."""
    if p.type == "int":
        assert p.min is not None and p.max is not None
        return st.integers(int(p.min), int(p.max))
    if p.type == "float":
        assert p.min is not None and p.max is not None
        return st.floats(p.min, p.max, allow_nan=False, allow_infinity=False)
    if p.type == "bool":
        return st.booleans()
    if p.type == "color":
        byte = st.integers(0, 255)
        return st.one_of(
            st.tuples(byte, byte, byte).map(list),
            st.tuples(byte, byte, byte).map(lambda c: "#{:02x}{:02x}{:02x}".format(*c)),
        )
    if p.type == "choice":
        return st.sampled_from(p.choices)
    chars = st.characters(min_codepoint=32, max_codepoint=0x2FFF)
    return st.text(chars, max_size=p.max_length)


def params_strategy(name: str) -> st.SearchStrategy[dict[str, Any]]:
    """Return any subset of ``name``'s parameters with valid values."""
    cls = REGISTRY.get(name)
    return st.fixed_dictionaries({}, optional={p.name: param_strategy(p) for p in cls.params})


TIMES = st.one_of(
    st.sampled_from([0.0, -0.0, 1e-9, -1.0, 1e7, -1e7, 1e7 + 0.5, 86399.9, 3600.0]),
    st.floats(-100.0, 100.0, allow_nan=False),
    st.floats(-1e7, 1e7, allow_nan=False),
)


def check_frame(frame: np.ndarray, width: int, height: int) -> None:
    """Assert the choke point's output is what every display expects."""
    assert isinstance(frame, np.ndarray)
    assert frame.dtype == np.uint8
    assert frame.shape == (height, width, 3)
    assert frame.flags.c_contiguous


# ---------------------------------------------------------------------- the catalogue
def test_the_library_has_every_promised_effect() -> None:
    assert set(NAMES) >= BUILTIN_EFFECTS
    assert {"breathe", "solid", "plasma", "blank"} <= set(NAMES)


@pytest.mark.parametrize("name", sorted(BUILTIN_EFFECTS))
def test_builtin_effects_describe_themselves(name: str) -> None:
    cls = REGISTRY.get(name)
    assert cls.title and cls.description
    assert cls.category == "effect"
    assert cls.params, "every effect has something to tune"
    for p in cls.params:
        assert p.help, f"{name}.{p.name} needs help text"
        if p.type in ("int", "float"):
            assert p.min is not None and p.max is not None and p.min < p.max


def test_catalogue_is_json_ready() -> None:
    import json

    cat = REGISTRY.catalogue()
    assert [c["name"] for c in cat] == NAMES
    json.dumps(cat)


def test_catalogue_gives_every_param_a_title_and_every_animation_a_group() -> None:
    cat = {c["name"]: c for c in REGISTRY.catalogue()}
    for name, entry in cat.items():
        assert entry["group"] in GROUPS, name
        for p in entry["params"]:
            assert p["title"] and p["title"][0].isupper(), f"{name}.{p['name']}"
            assert {"name", "type", "default", "help"} <= set(p)  # keys are only added
    # Fire's own level is not the panel's Brightness.
    fire = {p["name"]: p for p in cat["fire"]["params"]}
    assert fire["brightness"]["title"] == "Flame intensity"
    assert fire["speed"]["unit"] == "\u00d7" and "unit" not in fire["palette"]
    assert {p["name"]: p for p in cat["breathe"]["params"]}["period"]["unit"] == "s"
    assert {p["name"]: p["title"] for p in cat["aurora"]["params"]}["color_low"] == "Lower colour"
    assert cat["clock"]["group"] == cat["text"]["group"] == "Clock & text"
    assert cat["image"]["group"] == "Images"
    assert all(c["group"] == "Test patterns" for n, c in cat.items() if n.startswith("test_"))
    assert GROUPS[-1] == "Test patterns"


def test_a_param_title_defaults_to_its_name_in_words() -> None:
    assert Param("color_high", "color", "#000000").label() == "Colour high"
    assert Param("show_seconds", "bool", True).label() == "Show seconds"
    assert Param("x", "bool", True, title="Wobble").describe()["title"] == "Wobble"


def test_an_unknown_group_is_refused() -> None:
    class Odd(Animation):
        name = "odd_group"
        title = "Odd"
        group = "Miscellaneous"

        def draw(self, t: float) -> np.ndarray:
            return np.zeros((1, 1, 3), np.uint8)

    with pytest.raises(RegistryError, match="group"):
        Registry().register(Odd)


# ---------------------------------------------------------------------- properties
@pytest.mark.parametrize("name", NAMES)
@PROPERTY
@given(data=st.data())
def test_every_animation_renders_safely(name: str, data: st.DataObject) -> None:
    width, height = data.draw(st.sampled_from(SIZES), label="size")
    params = REGISTRY.resolve_params(name, data.draw(params_strategy(name), label="params"))
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    anim = REGISTRY.get(name)(width, height, params, seed=seed)
    anim.epoch_at_t0 = data.draw(st.sampled_from([0.0, EPOCH, 4e9]), label="epoch")
    guard = FrameGuard(width, height)
    times = data.draw(st.lists(TIMES, min_size=1, max_size=6), label="times")
    new_params = data.draw(params_strategy(name), label="new_params")
    for i, t in enumerate(times):
        if i == len(times) // 2:
            anim.update_params(REGISTRY.resolve_params(name, new_params, base=anim.p))
        check_frame(guard(anim.draw(t)), width, height)


@pytest.mark.parametrize("name", NAMES)
@PROPERTY
@given(
    size=st.sampled_from(SIZES),
    times=st.lists(st.floats(-5.0, 50.0, allow_nan=False), min_size=1, max_size=8),
)
def test_same_seed_same_frames(name: str, size: tuple[int, int], times: list[float]) -> None:
    w, h = size
    a = REGISTRY.create(name, w, h, {}, seed=7)
    b = REGISTRY.create(name, w, h, {}, seed=7)
    a.epoch_at_t0 = b.epoch_at_t0 = EPOCH
    ga, gb = FrameGuard(w, h), FrameGuard(w, h)
    for t in times:
        assert np.array_equal(ga(a.draw(t)), gb(b.draw(t)))


STATELESS = [n for n in NAMES if not REGISTRY.get(n).stateful]
STATEFUL = [n for n in NAMES if REGISTRY.get(n).stateful]


def test_the_simulations_say_they_are_stateful() -> None:
    assert {"fire", "life"} <= set(STATEFUL)


@pytest.mark.parametrize("name", STATELESS)
@PROPERTY
@given(
    history=st.lists(TIMES, max_size=5),
    t=TIMES,
    size=st.sampled_from([(8, 8), (64, 32)]),
)
def test_stateless_frames_do_not_depend_on_history(
    name: str, history: list[float], t: float, size: tuple[int, int]
) -> None:
    w, h = size
    used = REGISTRY.create(name, w, h, {}, seed=3)
    fresh = REGISTRY.create(name, w, h, {}, seed=3)
    used.epoch_at_t0 = fresh.epoch_at_t0 = EPOCH
    guard = FrameGuard(w, h)
    for s in history:
        used.draw(s)
    first = guard(used.draw(t)).copy()
    assert np.array_equal(first, guard(fresh.draw(t)))


@pytest.mark.parametrize("name", STATEFUL)
def test_stateful_restart_when_time_goes_back(name: str) -> None:
    anim = REGISTRY.create(name, 32, 16, {}, seed=11)
    guard = FrameGuard(32, 16)
    start = guard(anim.draw(0.0)).copy()
    for i in range(1, 90):
        anim.draw(i / 30)
    moved = guard(anim.draw(3.0)).copy()
    assert not np.array_equal(start, moved), "the simulation should move"
    assert np.array_equal(guard(anim.draw(0.0)), start), "going back restarts from the seed"


@pytest.mark.parametrize("name", STATEFUL)
def test_stateful_big_jumps_are_clamped(name: str) -> None:
    anim = REGISTRY.create(name, 128, 64, {}, seed=1)
    anim.draw(0.0)
    began = time.perf_counter()
    anim.draw(1e7)
    anim.draw(2e7)
    assert time.perf_counter() - began < 0.25


@pytest.mark.parametrize("name", STATEFUL)
def test_stateful_frames_reuse_their_buffers(name: str) -> None:
    anim = REGISTRY.create(name, 64, 32, {})
    first = anim.draw(0.0)
    assert anim.draw(0.1) is first and anim.draw(0.2) is first


# ---------------------------------------------------------------------- specific animations
@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def lit(frame: np.ndarray) -> np.ndarray:
    return np.asarray(frame.max(axis=2) > 0)


def test_clock_shows_the_time_of_day(utc: None) -> None:
    # 2023-11-14 22:13:20 UTC; one second later at t=1.
    anim = REGISTRY.create("clock", 47, 7, {"show_date": False, "color": "#ffffff"})
    anim.epoch_at_t0 = EPOCH
    frame = FrameGuard(47, 7)(anim.draw(1.0))
    assert np.array_equal(lit(frame), FONT_5X7.render("22:13:21"))


def test_clock_prefers_bigger_digits_to_seconds(utc: None) -> None:
    anim = REGISTRY.create("clock", 64, 16, {"show_date": False})
    anim.epoch_at_t0 = EPOCH
    mask = lit(FrameGuard(64, 16)(anim.draw(0.0)))
    expected = FONT_5X7.render("22:13", 2)
    y, x = np.argwhere(mask).min(axis=0)
    assert np.array_equal(mask[y : y + 14, x : x + expected.shape[1]], expected)


def test_clock_12h(utc: None) -> None:
    anim = REGISTRY.create("clock", 29, 7, {"show_date": False, "show_seconds": False,
                                             "hour_format": "12h"})
    anim.epoch_at_t0 = EPOCH
    mask = lit(FrameGuard(29, 7)(anim.draw(0.0)))
    expected = FONT_5X7.render("10:13")
    assert np.array_equal(mask, expected)


def test_clock_takes_its_time_zone_from_outside(utc: None) -> None:
    """The engine hands in a zone (a later `timezone` setting); the process's TZ stays UTC."""
    from datetime import timedelta, timezone

    anim = REGISTRY.create("clock", 47, 7, {"show_date": False, "color": "#ffffff"})
    anim.epoch_at_t0 = EPOCH
    anim.tz = timezone(timedelta(hours=5, minutes=30))
    frame = FrameGuard(47, 7)(anim.draw(1.0))
    assert np.array_equal(lit(frame), FONT_5X7.render("03:43:21"))  # 22:13:21 UTC
    anim.tz = None  # back to the process's zone
    anim.update_params({})
    assert np.array_equal(lit(FrameGuard(47, 7)(anim.draw(1.0))), FONT_5X7.render("22:13:21"))


def test_configure_runs_after_every_parameter_change() -> None:
    class Counts(Animation):
        name = "counts_configure"
        title = "Counts"
        params = (Param("level", "int", 1, min=0, max=9),)

        def setup(self) -> None:
            self.configured: list[int] = []

        def configure(self) -> None:
            self.configured.append(self.p["level"])

        def draw(self, t: float) -> np.ndarray:
            return np.zeros((self.height, self.width, 3), np.uint8)

    anim = Counts(4, 4, {"level": 1})
    anim.update_params({"level": 7})
    assert anim.configured == [7]
    # Plasma's colour table follows its saturation through the hook.
    plasma = REGISTRY.create("plasma", 8, 8, {"saturation": 1.0})
    before = plasma.draw(0.5).copy()
    plasma.update_params({"saturation": 0.0})
    grey = np.asarray(plasma.draw(0.5), np.float64)
    assert not np.array_equal(before, grey)
    assert np.allclose(grey[..., 0], grey[..., 1], atol=1) and np.allclose(grey[..., 1],
                                                                           grey[..., 2], atol=1)


def test_starfield_keeps_its_sky_unless_the_count_changes() -> None:
    anim = REGISTRY.create("starfield", 32, 16, {"count": 50})
    sky = anim._sx.copy()  # type: ignore[attr-defined]
    anim.update_params({"speed": 2.0})
    assert np.array_equal(anim._sx, sky)  # type: ignore[attr-defined]
    anim.update_params({"count": 80})
    assert len(anim._sx) == 80  # type: ignore[attr-defined]


def test_scrolling_text_enters_from_the_right_and_scrolls_left() -> None:
    anim = REGISTRY.create("text", 32, 8, {"text": "HI", "speed": 10.0, "size": 1})
    guard = FrameGuard(32, 8)
    assert not lit(guard(anim.draw(0.0))).any()
    cols_1 = np.flatnonzero(lit(guard(anim.draw(1.0))).any(axis=0))
    cols_2 = np.flatnonzero(lit(guard(anim.draw(2.0))).any(axis=0))
    assert cols_1.min() == 22 and cols_2.min() == 12


def test_scrolling_text_draws_non_ascii_with_its_glyph_and_unknown_letters_as_a_box() -> None:
    anim = REGISTRY.create("text", 5, 7, {"text": "\u20ac", "speed": 5.0, "size": 1})
    mask = lit(FrameGuard(5, 7)(anim.draw(1.0)))
    assert np.array_equal(mask, FONT_5X7.render("\u20ac"))
    assert not np.array_equal(mask, FONT_5X7.render("?"))
    anim = REGISTRY.create("text", 5, 7, {"text": "\u4e00", "speed": 5.0, "size": 1})
    mask = lit(FrameGuard(5, 7)(anim.draw(1.0)))
    assert np.array_equal(mask, FONT_5X7.box)


def test_scrolling_text_glides_between_pixels() -> None:
    # At 10 px/s a 32-wide panel: t=1.0 and t=1.1 are whole pixels, t=1.05 lies halfway.
    anim = REGISTRY.create("text", 32, 8, {"text": "HI", "speed": 10.0, "size": 1})
    guard = FrameGuard(32, 8)
    whole = guard(anim.draw(1.0)).astype(int)
    half = guard(anim.draw(1.05)).astype(int)
    assert set(np.unique(whole)) == {0, 255}  # at rest on a pixel: crisp
    assert 128 in np.unique(half)  # between two pixels: each lends half its ink
    assert half.sum() == pytest.approx(whole.sum(), rel=0.02)
    assert np.flatnonzero(lit(half).any(axis=0)).min() == 21  # x = 21.5


def test_scrolling_text_picks_the_6x13_font_for_32_rows_and_draws_unicode() -> None:
    text = "21 °C ✓ Grüße €5 ♥ →"
    anim = REGISTRY.create("text", 64, 32, {"text": text, "speed": 10.0})
    assert np.array_equal(anim._bitmap, FONT_6X13.render(text))  # type: ignore[attr-defined]
    assert not any(np.array_equal(FONT_6X13.glyph(ch), FONT_6X13.box) for ch in text)
    frame = FrameGuard(64, 32)(anim.draw(3.0))
    rows = np.flatnonzero(lit(frame).any(axis=1))
    assert rows.min() >= 9 and rows.max() <= 9 + 13  # centred: a 13-row cell on 32 rows


@settings(max_examples=40, deadline=None)
@given(text=st.text(st.characters(blacklist_categories=()).filter(lambda ch: ord(ch) >= 32),
                    max_size=64),
       size=st.sampled_from([(64, 32), (8, 8), (128, 64)]), t=TIMES, rainbow=st.booleans())
def test_scrolling_text_draws_any_unicode(
    text: str, size: tuple[int, int], t: float, rainbow: bool
) -> None:
    params = REGISTRY.resolve_params("text", {"text": text, "rainbow": rainbow})
    anim = REGISTRY.create("text", *size, params)
    check_frame(FrameGuard(*size)(anim.draw(t)), *size)


def test_life_reseeds_a_dead_board() -> None:
    anim = REGISTRY.create("life", 1, 1, {"speed": 60.0})
    assert isinstance(anim, Life)
    for i in range(200):
        anim.draw(i / 30)
    assert anim.generation > 100  # a 1x1 board always dies and is reseeded; it never stalls


# ---------------------------------------------------------------------- registry validation
def make_class(name: str = "thing", title: str = "Thing", params: tuple[Param, ...] = ()) -> type:
    class Thing(Animation):
        def draw(self, t: float) -> np.ndarray:
            return np.zeros((self.height, self.width, 3), np.uint8)

    Thing.name = name
    Thing.title = title
    Thing.params = params
    return Thing


def test_registry_rejects_a_duplicate_name() -> None:
    reg = Registry()
    first = make_class("dup")
    reg.register(first)
    reg.register(first)  # the same class again is harmless
    with pytest.raises(RegistryError, match="'dup' is already registered"):
        reg.register(make_class("dup"))


@pytest.mark.parametrize("bad", ["", "Plasma", "1fire", "with-dash", "space here", "x" * 33, 7])
def test_registry_rejects_invalid_names(bad: Any) -> None:
    with pytest.raises(RegistryError, match="must match"):
        Registry().register(make_class(bad))


def test_registry_needs_a_title() -> None:
    with pytest.raises(RegistryError, match="needs a title"):
        Registry().register(make_class("untitled", title=""))


def test_registry_rejects_duplicate_params() -> None:
    p = Param("speed", "float", 1.0, min=0.0, max=2.0)
    with pytest.raises(RegistryError, match="duplicate parameter 'speed'"):
        Registry().register(make_class("twice", params=(p, p)))


def test_registry_rejects_a_class_without_draw() -> None:
    class NoDraw(Animation):
        name = "nodraw"
        title = "No draw"

    with pytest.raises(RegistryError, match="does not implement draw"):
        Registry().register(NoDraw)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "n", "type": "int", "default": 50, "min": 0, "max": 10}, "bad default"),
        ({"name": "n", "type": "float", "default": 1.0}, "need min and max"),
        ({"name": "n", "type": "choice", "default": "a"}, "need choices"),
        ({"name": "n", "type": "choice", "default": "z", "choices": ("a",)}, "bad default"),
        ({"name": "n", "type": "color", "default": "orange"}, "bad default"),
        ({"name": "n", "type": "bool", "default": 1}, "bad default"),
        ({"name": "Bad-Name", "type": "bool", "default": True}, "must match"),
        ({"name": "n", "type": "string", "default": "x" * 10, "max_length": 5}, "bad default"),
    ],
)
def test_params_reject_bad_declarations(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(RegistryError, match=message):
        Param(**kwargs)


def test_unknown_params_are_rejected_naming_the_key() -> None:
    with pytest.raises(ParamError) as err:
        REGISTRY.resolve_params("plasma", {"speeed": 2})
    assert err.value.field == "speeed"
    assert "speeed" in str(err.value) and "speed" in err.value.message


def test_unknown_params_in_the_base_are_rejected_too() -> None:
    with pytest.raises(ParamError, match="colour"):
        REGISTRY.resolve_params("solid", {}, base={"colour": "#ffffff"})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (9, r"speed: 9\.0 is out of range 0\.1\.\.5"),
        (0.0, "out of range 0.1..5"),
        (True, "expected a number"),
        ("2", "expected a number"),
        (float("nan"), "finite"),
        (float("inf"), "finite"),
        # Beyond float(): refused, not an OverflowError that stops the render loop.
        pytest.param(10**400, "out of range 0.1..5", id="huge_int"),
        pytest.param(-(10**400), "out of range 0.1..5", id="huge_negative_int"),
    ],
)
def test_numeric_params_name_the_range(value: Any, message: str) -> None:
    with pytest.raises(ParamError, match=message) as err:
        REGISTRY.resolve_params("plasma", {"speed": value})
    assert err.value.field == "speed"


def test_int_params_reject_fractions_and_accept_whole_floats() -> None:
    with pytest.raises(ParamError, match="integer"):
        REGISTRY.resolve_params("galaxy", {"arms": 2.5})
    assert REGISTRY.resolve_params("galaxy", {"arms": 3.0})["arms"] == 3


def test_choice_and_string_params() -> None:
    with pytest.raises(ParamError, match="not one of"):
        REGISTRY.resolve_params("rainbow", {"shape": "triangle"})
    with pytest.raises(ParamError, match="longer than 64"):
        REGISTRY.resolve_params("text", {"text": "x" * 65})
    with pytest.raises(ParamError, match="control characters"):
        REGISTRY.resolve_params("text", {"text": "a\nb"})
    with pytest.raises(ParamError, match="expected text"):
        REGISTRY.resolve_params("text", {"text": 5})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("#ff8800", (255, 136, 0)),
        ("ff8800", (255, 136, 0)),
        (" #FF8800 ", (255, 136, 0)),
        ([255, 136, 0], (255, 136, 0)),
        ((0, 0, 0), (0, 0, 0)),
    ],
)
def test_colours_parse(value: Any, expected: tuple[int, int, int]) -> None:
    assert parse_colour(value) == expected
    assert REGISTRY.resolve_params("solid", {"color": value})["color"] == expected


@pytest.mark.parametrize(
    "value", ["#ff880", "#ff88000", "red", "#gg0000", [256, 0, 0], [-1, 0, 0], [1, 2],
              [True, 0, 0], [1.0, 2, 3], 1.5, None]
)
def test_bad_colours_are_rejected(value: Any) -> None:
    with pytest.raises(ParamError) as err:
        REGISTRY.resolve_params("solid", {"color": value})
    assert err.value.field == "color"


def test_unknown_animation_lists_the_known_ones() -> None:
    with pytest.raises(UnknownAnimationError) as err:
        REGISTRY.get("plsma")
    assert "plsma" in str(err.value) and "plasma" in str(err.value)


# ---------------------------------------------------------------------- helpers
def test_font_has_every_printable_ascii_glyph() -> None:
    for code in range(32, 127):
        g = FONT_5X7.glyph(chr(code))
        assert g.shape == (7, 5) and g.dtype == bool
    digits = [FONT_5X7.glyph(str(d)).tobytes() for d in range(10)]
    assert len(set(digits)) == 10
    letters = [FONT_5X7.glyph(c).tobytes() for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"]
    assert len(set(letters)) == 26
    assert not FONT_5X7.glyph(" ").any()
    small = [FONT_3X5.glyph(str(d)).tobytes() for d in range(10)]
    assert len(set(small)) == 10


def test_font_render_and_blit_clip_anywhere() -> None:
    bitmap = FONT_5X7.render("Hi!", 2)
    assert bitmap.shape == (14, FONT_5X7.text_width("Hi!") * 2)
    frame = np.zeros((10, 10, 3), np.uint8)
    for x, y in [(-100, 0), (100, 0), (-5, -5), (8, 8), (0, 0)]:
        blit(frame, bitmap, x, y, (1, 2, 3))
    assert set(np.unique(frame)) <= {0, 1, 2, 3}


def test_stepper_counts_restarts_and_clamps() -> None:
    s = Stepper(max_steps=3)
    assert s.advance(5.0, 8.0) == (True, 0)
    assert s.advance(5.25, 8.0) == (False, 2)
    assert s.advance(5.3125, 8.0) == (False, 0)  # half a step carries over...
    assert s.advance(5.375, 8.0) == (False, 1)  # ...and completes here
    assert s.advance(1000.0, 8.0) == (False, 3)
    assert s.advance(999.0, 8.0) == (True, 0)
    assert s.advance(999.0, 8.0) == (False, 0)


def test_splat_keeps_energy_on_the_panel_and_drops_the_rest() -> None:
    sp = Splat(4, 3)
    sp.add(np.array([1.5, -50.0, np.nan, 2.0]), np.array([1.0, 0.0, 1.0, 2.0]),
           np.ones(3, np.float32), np.array([4.0, 9.0, 9.0, 1.0], np.float32))
    f = sp.frame
    assert f[1, 1, 0] == pytest.approx(2.0) and f[1, 2, 0] == pytest.approx(2.0)
    assert f[2, 2, 1] == pytest.approx(1.0)
    assert float(f.sum()) == pytest.approx(15.0)


def test_splat_nearest_rounds_to_a_pixel_and_drops_the_rest() -> None:
    sp = Splat(4, 3)
    sp.add_nearest(np.array([1.4, 2.6, 99.0, np.nan, -0.6]), np.array([0.6, 2.0, 1.0, 1.0, 0.0]),
                   np.array([[1, 0, 0], [0, 1, 0], [1, 1, 1], [1, 1, 1], [0, 0, 1]], np.float32),
                   np.array([2.0, 3.0, 5.0, 5.0, 7.0], np.float32))
    f = sp.frame
    assert f[1, 1].tolist() == [2.0, 0.0, 0.0]
    assert f[2, 3].tolist() == [0.0, 3.0, 0.0]
    assert float(f.sum()) == pytest.approx(5.0)  # the rest fell on the hidden border


def test_periodic_noise_tiles_seamlessly() -> None:
    n = periodic_noise(np.random.default_rng(0), 32, 64, 8.0)
    assert n.dtype == np.float32 and n.min() >= 0 and n.max() <= 1
    # The wrap-around step is no bigger than steps inside the texture.
    inner = np.abs(np.diff(n, axis=1)).max()
    assert np.abs(n[:, 0] - n[:, -1]).max() <= inner + 1e-6


def test_wrap_keeps_phases_small_at_huge_times() -> None:
    assert 0.0 <= wrap(1e7 * 3.3, 1.0) < 1.0
    assert 0.0 <= wrap(-1e7, 6.28) < 6.28
