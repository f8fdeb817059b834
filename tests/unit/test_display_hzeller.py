"""The rgbmatrix driver against a fake binding that enforces the real binding's rules."""

from __future__ import annotations

import gc
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from PIL import Image

from appliance.display import DisplayError, make_display
from appliance.display.hzeller import (
    FAIL,
    OPTION_MAP,
    PASS,
    WARN,
    Machine,
    RGBMatrixDisplay,
    device_checks,
    module_checks,
    option_checks,
)
from appliance.settings import DisplaySettings
from tests.unit.fake_binding import imported_fake
from tests.unit.fixtures_sys import load_sound_module, make_tree, remove_device_nodes


@pytest.fixture
def fake() -> Iterator[ModuleType]:
    """The fake ``rgbmatrix`` module for the test's duration."""
    with imported_fake() as mod:
        yield mod


@pytest.fixture
def pi4(tmp_path: Path) -> Machine:
    """A healthy Pi 4, running as root."""
    return Machine(root=make_tree("pi4", tmp_path), euid=lambda: 0)


def cfg(**kw: Any) -> DisplaySettings:
    """A 64x32 panel unless told otherwise."""
    base: dict[str, Any] = {"driver": "rgbmatrix", "rows": 32, "cols": 64}
    base.update(kw)
    return DisplaySettings(**base)


def started(fake: ModuleType, machine: Machine, **kw: Any) -> RGBMatrixDisplay:
    d = RGBMatrixDisplay(cfg(**kw), machine=machine)
    d.start()
    return d


def the_matrix(fake: ModuleType) -> Any:
    live = fake.live_matrices()
    assert len(live) == 1
    return live[0]


def test_constructor_does_no_io(tmp_path: Path) -> None:
    def loader(name: str) -> ModuleType:
        raise AssertionError("imported in the constructor")

    d = RGBMatrixDisplay(cfg(), machine=Machine(root=tmp_path / "nowhere"), loader=loader)
    assert (d.width, d.height, d.started) == (64, 32, False)


def test_make_display_builds_the_driver() -> None:
    assert isinstance(make_display(cfg()), RGBMatrixDisplay)


def test_canvas_created_once_over_many_frames_and_pixels_arrive(
    fake: ModuleType, pi4: Machine
) -> None:
    rng = np.random.default_rng(1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", fake.CanvasLeakWarning)
        d = started(fake, pi4)
        m = the_matrix(fake)
        for _ in range(300):
            frame = rng.integers(0, 256, (32, 64, 3), dtype=np.uint8)
            d.show(frame)
            assert np.array_equal(m.shown(), frame)
            d.start()  # a retry after a frame error must not make a second matrix or canvas
    assert len(m.created_canvases) == 1
    assert d.canvases_created == 1 and d.frames_shown == 300
    assert m.swaps == 300
    assert len(fake.live_matrices()) == 1
    # Every image handed over was a PIL RGB image of the frame's size, after the one
    # black pixel that asked the binding whether the library made a matrix.
    probe, *frames = m.images
    assert probe.mode == "RGB" and probe.size == (1, 1) and not np.asarray(probe).any()
    assert all(isinstance(i, Image.Image) and i.mode == "RGB" and i.size == (64, 32)
               for i in frames) and len(frames) == 300


def test_swap_alternates_between_two_framebuffers(fake: ModuleType, pi4: Machine) -> None:
    d = started(fake, pi4)
    m = the_matrix(fake)
    mine = m.created_canvases[0]
    d.show(np.zeros((32, 64, 3), np.uint8))
    assert m.displayed is mine and d._canvas is not mine  # drawing into the other one now
    d.show(np.zeros((32, 64, 3), np.uint8))
    assert d._canvas is mine


def test_the_fake_catches_a_second_canvas(fake: ModuleType) -> None:
    m = fake.RGBMatrix(options=fake.RGBMatrixOptions())
    m.CreateFrameCanvas()
    with pytest.warns(fake.CanvasLeakWarning):
        m.CreateFrameCanvas()


def test_the_fake_refuses_non_rgb_images(fake: ModuleType) -> None:
    m = fake.RGBMatrix(options=fake.RGBMatrixOptions())
    c = m.CreateFrameCanvas()
    with pytest.raises(Exception, match="only RGB mode"):
        c.SetImage(Image.new("RGBA", (32, 32)))
    with pytest.raises(AttributeError, match="mode"):  # core.pyx reads image.mode first
        c.SetImage(np.zeros((32, 32, 3), np.uint8))


def test_the_fake_options_behave_like_cython(fake: ModuleType) -> None:
    o = fake.RGBMatrixOptions()
    with pytest.raises(AttributeError):
        o.chain = 2  # a typo of chain_length
    o.rows = 32.9  # the real binding truncates a float (int(x)), it does not refuse it
    assert o.rows == 32
    with pytest.raises(TypeError):
        o.rows = "32"
    with pytest.raises(OverflowError):
        o.rows = 256
    with pytest.raises(AttributeError):  # core.pyx calls value.encode('utf-8')
        o.hardware_mapping = 3
    with pytest.raises(AttributeError):
        o.hardware_mapping = b"regular"
    o.hardware_mapping = "adafruit-hat"
    assert o.hardware_mapping == b"adafruit-hat"


def test_every_setting_is_mapped_onto_the_options(fake: ModuleType, pi4: Machine) -> None:
    settings = cfg(rows=64, cols=64, chain_length=2, parallel=1,
                   hardware_mapping="adafruit-hat-pwm",
                   gpio_slowdown=3, pwm_bits=9, pwm_lsb_nanoseconds=200, pwm_dither_bits=1,
                   scan_mode=1, row_address_type=1, multiplexing=2, led_rgb_sequence="RBG",
                   pixel_mapper_config="U-mapper", panel_type="FM6126A",
                   limit_refresh_rate_hz=120, disable_hardware_pulsing=True,
                   show_refresh_rate=True, brightness=55, drop_privileges=True,
                   drop_priv_user="lightbox", drop_priv_group="gpio")
    d = RGBMatrixDisplay(settings, machine=pi4)
    d.start()
    o = the_matrix(fake).options
    assert o["rows"] == 64 and o["cols"] == 64 and o["chain_length"] == 2 and o["parallel"] == 1
    assert o["hardware_mapping"] == b"adafruit-hat-pwm"
    assert o["gpio_slowdown"] == 3 and o["pwm_bits"] == 9 and o["pwm_lsb_nanoseconds"] == 200
    assert o["pwm_dither_bits"] == 1 and o["scan_mode"] == 1 and o["row_address_type"] == 1
    assert o["multiplexing"] == 2 and o["led_rgb_sequence"] == b"RBG"
    assert o["pixel_mapper_config"] == b"U-mapper" and o["panel_type"] == b"FM6126A"
    assert o["limit_refresh_rate_hz"] == 120
    assert o["disable_hardware_pulsing"] is True and o["show_refresh_rate"] is True
    assert o["brightness"] == 55 and o["drop_privileges"] == 1
    assert o["drop_priv_user"] == b"lightbox" and o["drop_priv_group"] == b"gpio"
    assert o["daemon"] == 0
    # Every DisplaySettings option the binding knows was applied; none silently skipped.
    assert set(d.applied) == set(OPTION_MAP) and d.skipped == []
    hardware_fields = set(DisplaySettings.model_fields) - {
        "driver", "fps", "retry_initial_s", "retry_max_s"}
    assert hardware_fields == set(OPTION_MAP)


def test_an_old_binding_skips_defaults_and_refuses_what_it_cannot_do(
    fake: ModuleType, pi4: Machine
) -> None:
    for k in fake.FEATURES:
        fake.FEATURES[k] = False
    d = started(fake, pi4)  # all new options at their defaults: fine
    assert set(d.skipped) == {"panel_type", "pwm_dither_bits", "limit_refresh_rate_hz",
                              "drop_priv_user", "drop_priv_group", "rp1_rio"}
    d.stop()
    with pytest.raises(DisplayError, match=r"panel_type.*update the binding"):
        RGBMatrixDisplay(cfg(panel_type="FM6126A"), machine=pi4).start()


def test_brightness_goes_to_the_matrix_and_the_canvas(fake: ModuleType, pi4: Machine) -> None:
    d = started(fake, pi4, brightness=40)
    m = the_matrix(fake)
    assert m.brightness == 40
    d.set_brightness(75)
    assert m.brightness == 75 and d._canvas.brightness == 75
    d.set_brightness(0)  # power off
    assert m.brightness == 0
    d.set_brightness(250)  # clamped, never a binding error
    assert m.brightness == 100
    assert d.health()["brightness_pct"] == 100


def test_stop_clears_and_releases(fake: ModuleType, pi4: Machine) -> None:
    d = started(fake, pi4)
    m = the_matrix(fake)
    d.show(np.full((32, 64, 3), 200, np.uint8))
    d.show(np.full((32, 64, 3), 100, np.uint8))
    assert m.shown().any()
    d.stop()
    assert not m.shown().any()
    assert all(not c.pixels.any() for c in m.created_canvases)
    del m
    gc.collect()
    assert fake.live_matrices() == [] and fake.RELEASED == ["64x32"]
    assert not d.started
    with pytest.raises(DisplayError, match="not started"):
        d.show(np.zeros((32, 64, 3), np.uint8))


def test_clear_darkens(fake: ModuleType, pi4: Machine) -> None:
    d = started(fake, pi4)
    d.show(np.full((32, 64, 3), 255, np.uint8))
    d.clear()
    assert not the_matrix(fake).shown().any()


def test_health_reports_facts(fake: ModuleType, pi4: Machine) -> None:
    d = started(fake, pi4, hardware_mapping="adafruit-hat", gpio_slowdown=4)
    d.show(np.zeros((32, 64, 3), np.uint8))
    h = d.health()
    assert h["driver"] == "rgbmatrix" and h["started"] is True and h["frames_shown"] == 1
    assert h["canvases_created"] == 1 and h["geometry"] == "64x32"
    assert h["hardware_mapping"] == "adafruit-hat" and h["binding_version"] == "0.0.1-fake"


def test_binding_errors_become_display_errors(fake: ModuleType, pi4: Machine) -> None:
    d = started(fake, pi4)
    with pytest.raises(DisplayError):
        d.show(np.zeros((32, 64, 4), np.uint8))  # not RGB: PIL makes RGBA, the binding refuses


# Preflight: every failure names its fix and happens before rgbmatrix is imported ------------


def never_import(name: str) -> ModuleType:
    raise AssertionError(f"{name} imported although preflight should have failed")


@pytest.mark.parametrize(
    ("change", "expect"),
    [
        (lambda root: remove_device_nodes(root), "neither /dev/mem nor /dev/gpiomem.*fix:"),
        (lambda root: load_sound_module(root), "snd_bcm2835.*fix: set dtparam=audio=off"),
        (lambda root: (root / "proc/device-tree/model").unlink(), "not a Raspberry Pi.*fix:"),
    ],
)
def test_preflight_failures_name_the_fix_without_importing(
    tmp_path: Path, change: Any, expect: str
) -> None:
    root = make_tree("pi4", tmp_path)
    change(root)
    d = RGBMatrixDisplay(cfg(), machine=Machine(root=root, euid=lambda: 0), loader=never_import)
    with pytest.raises(DisplayError, match=expect):
        d.start()
    assert "rgbmatrix" not in sys.modules
    assert d.health()["last_error"]


def test_preflight_refuses_bad_options_without_importing(pi4: Machine) -> None:
    # The schema refuses odd rows and narrow panels too; the preflight is the second line
    # for a settings object built without validation.
    unchecked = DisplaySettings.model_construct
    for settings, expect in [
        (unchecked(**{**cfg().__dict__, "rows": 31}), "rows.*fix: set display.rows"),
        (unchecked(**{**cfg().__dict__, "cols": 8}), "cols.*fix"),
        (cfg(hardware_mapping="adafruit-hat", parallel=2), "parallel.*fix: set display.parallel"),
    ]:
        with pytest.raises(DisplayError, match=expect):
            RGBMatrixDisplay(settings, machine=pi4, loader=never_import).start()


def test_preflight_refuses_unopenable_nodes(tmp_path: Path) -> None:
    root = make_tree("pi4", tmp_path)
    m = Machine(root=root, euid=lambda: 1000, access=lambda p, mode: False)
    with pytest.raises(DisplayError, match=r"cannot open it.*fix: start the engine as root"):
        RGBMatrixDisplay(cfg(), machine=m, loader=never_import).start()


def test_missing_binding_says_how_to_install(pi4: Machine) -> None:
    def loader(name: str) -> ModuleType:
        raise ImportError("No module named 'rgbmatrix'")

    with pytest.raises(DisplayError, match=r"cannot be imported.*fix: build and install"):
        RGBMatrixDisplay(cfg(), machine=pi4, loader=loader).start()


def test_option_checks_pass_for_defaults_and_flag_pi_specific_limits() -> None:
    assert option_checks(DisplaySettings()) == []
    # Validated settings refuse both now; the checks stay as a second line for the library.
    odd = cfg().model_copy(update={"panel_type": "XYZ", "pixel_mapper_config": "Spin:3"})
    levels = {c.name: c.level for c in option_checks(odd)}
    assert levels == {"display.panel_type": WARN, "display.pixel_mapper_config": WARN}


def test_device_checks_explain_root_and_gpiomem(tmp_path: Path) -> None:
    root = make_tree("pi4", tmp_path)
    as_root = device_checks(Machine(root=root, euid=lambda: 0), cfg())
    assert [c.level for c in as_root] == [PASS, PASS]
    assert "drops to lightbox:lightbox" in as_root[1].message

    def only_gpiomem(p: Path, mode: int) -> bool:
        return p.name == "gpiomem"

    user = Machine(root=root, euid=lambda: 1000, access=only_gpiomem)
    # A mapping without a PWM-pulsed output-enable pin runs on /dev/gpiomem, with flicker.
    hat = device_checks(user, cfg(hardware_mapping="adafruit-hat"))
    assert [c.level for c in hat] == [WARN, WARN]
    assert "hardware pulsing" in hat[0].message and hat[0].fix
    no_pulses = device_checks(user, cfg(disable_hardware_pulsing=True))
    assert no_pulses[0].level == PASS


@pytest.mark.parametrize("mapping", ["regular", "adafruit-hat-pwm", "regular-pi1"])
def test_gpiomem_alone_fails_a_pwm_pulsed_mapping(tmp_path: Path, mapping: str) -> None:
    # lib/gpio.cc: the hardware pulser needs the PWM registers only /dev/mem maps; without
    # them the library prints "Need root" and calls exit(1), which the engine cannot catch.
    root = make_tree("pi4", tmp_path)
    (root / "dev/mem").unlink()
    m = Machine(root=root, euid=lambda: 0)
    checks = device_checks(m, cfg(hardware_mapping=mapping))
    assert checks[0].level == FAIL and "exit(1)" in checks[0].message
    assert "disable_hardware_pulsing" in checks[0].fix
    with pytest.raises(DisplayError, match=r"device nodes.*exit"):
        RGBMatrixDisplay(cfg(hardware_mapping=mapping), machine=m, loader=never_import).start()
    classic = device_checks(m, cfg(hardware_mapping="classic"))
    assert classic[0].level == WARN


def test_a_missing_drop_user_or_group_fails(tmp_path: Path) -> None:
    # lib/led-matrix.cc drop_privs(): an unknown name makes it return without dropping,
    # and nothing checks the result: the engine would go on as root.
    root = make_tree("pi4", tmp_path)
    m = Machine(root=root, euid=lambda: 0, user_exists=lambda n: n == "lightbox",
                group_exists=lambda n: n == "lightbox")
    assert not [c for c in device_checks(m, cfg()) if c.level == FAIL]
    for key in ("drop_priv_user", "drop_priv_group"):
        checks = device_checks(m, cfg(**{key: "nobody-here"}))
        fails = [c for c in checks if c.level == FAIL]
        assert [c.name for c in fails] == [f"display.{key}"], checks
        assert "keep running as root" in fails[0].message
    off = device_checks(m, cfg(drop_privileges=False, drop_priv_user="nobody-here"))
    assert not [c for c in off if c.level == FAIL]
    not_root = Machine(root=root, euid=lambda: 1000, user_exists=lambda n: False)
    assert not [c for c in device_checks(not_root, cfg()) if c.name.startswith("display.drop")]


def test_module_checks(tmp_path: Path) -> None:
    root = make_tree("pi4", tmp_path)
    assert module_checks(Machine(root=root))[0].level == PASS
    load_sound_module(root)
    assert module_checks(Machine(root=root))[0].level == FAIL


def test_real_host_machine_reads_without_error() -> None:
    m = Machine()
    m.modules()
    m.model()
    assert isinstance(m.is_root(), bool) and os.sep
