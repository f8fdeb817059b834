"""When hzeller's library makes no matrix, and what ``auto`` picks off a Pi.

The arm64 tier (tests/arm64/, scripts/test-arm64) saw the real binding do this: without
GPIO to map (no /dev/mem, no /dev/gpiomem) ``CreateFromOptions`` prints why and returns
NULL, the binding raises nothing, and ``width``, ``CreateFrameCanvas`` or freeing the
object segfault. Here the fake does the same, and the driver must say so clearly and
never touch or free that object. Also: ``LIGHTBOX_HOST_ROOT`` points the checks at a fake
host tree, and ``auto`` with the binding installed on a non-Pi picks the virtual panel.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import structlog

from appliance.display import DisplayError, auto_driver, make_display
from appliance.display.hzeller import RGBMatrixDisplay
from appliance.display.hzeller import driver as hz_driver
from appliance.display.virtual import VirtualDisplay
from appliance.ops.checks import Machine, host_root
from appliance.settings import DisplaySettings
from tests.unit.fake_binding import imported_fake
from tests.unit.fixtures_sys import make_tree


@pytest.fixture
def fake() -> Iterator[ModuleType]:
    """The fake ``rgbmatrix`` module for the test's duration."""
    with imported_fake() as mod:
        yield mod


def cfg(**kw: object) -> DisplaySettings:
    return DisplaySettings(**{"driver": "rgbmatrix", "rows": 32, "cols": 64, **kw})


def test_no_matrix_is_a_clear_error_and_the_object_is_never_freed(
        fake: ModuleType, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    fake.GPIO_OK = False
    kept = len(hz_driver._NEVER_FREED)
    d = RGBMatrixDisplay(cfg(), machine=Machine(root=make_tree("pi4", tmp_path), euid=lambda: 0))
    with pytest.raises(DisplayError, match=r"made no matrix.*NULL.*fix: run `lightbox diagnose`"):
        d.start()
    assert "Must run as root" in capfd.readouterr().err  # the library's own reason
    assert "made no matrix" in (d.health()["last_error"] or "")
    assert not d.started
    gc.collect()
    assert fake.CRASHES == []  # never freed: its __dealloc__ would segfault
    assert len(hz_driver._NEVER_FREED) == kept + 1
    null = hz_driver._NEVER_FREED[-1]
    assert sys.getrefcount(null) >= 3  # the list, the leaked reference, the argument
    # A retry asks the library again rather than reusing the NULL.
    fake.GPIO_OK = True
    d.start()
    assert d.started and fake.CRASHES == []


def test_a_real_matrix_passes_the_probe(fake: ModuleType) -> None:
    m = fake.RGBMatrix(options=fake.RGBMatrixOptions())
    assert hz_driver.library_made(m)
    assert m.shown()[0, 0].tolist() == [0, 0, 0]  # the probe draws one black pixel
    fake.GPIO_OK = False
    null = fake.RGBMatrix(options=fake.RGBMatrixOptions())
    assert not hz_driver.library_made(null)
    hz_driver.never_free(null)


def test_host_root_env_points_the_checks_at_a_fake_tree(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tree = make_tree("pi4", tmp_path)
    monkeypatch.setenv("LIGHTBOX_HOST_ROOT", str(tree))
    assert host_root() == tree
    m = Machine()
    assert m.root == tree and m.is_pi4() and m.path("/dev/gpiomem").exists()
    monkeypatch.setenv("LIGHTBOX_HOST_ROOT", "")
    assert Machine().root == Path("/")


def test_auto_with_the_binding_off_a_pi_picks_virtual_and_says_why(
        fake: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIGHTBOX_HOST_ROOT", str(make_tree("non_pi", tmp_path)))
    with structlog.testing.capture_logs() as logs:
        assert auto_driver() == "virtual"
        display = make_display(DisplaySettings(driver="auto", rows=32, cols=64))
    assert isinstance(display, VirtualDisplay)
    line = next(e for e in logs if e["event"] == "display_auto_selected")
    assert line["log_level"] == "warning" and "not a Raspberry Pi" in line["reason"]
    monkeypatch.setenv("LIGHTBOX_HOST_ROOT", str(make_tree("pi4", tmp_path / "pi")))
    assert auto_driver() == "rgbmatrix"
    assert isinstance(make_display(DisplaySettings(driver="auto")), RGBMatrixDisplay)


def test_auto_without_the_binding_picks_virtual(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    monkeypatch.setenv("LIGHTBOX_HOST_ROOT", str(make_tree("pi4", tmp_path)))
    monkeypatch.setattr("appliance.display.rgbmatrix_available", lambda: False)
    assert auto_driver() == "virtual"


def test_without_proc_modules_the_sound_check_warns_and_the_preflight_goes_on(
        tmp_path: Path) -> None:
    from appliance.display.hzeller import module_checks, preflight_checks

    tree = make_tree("pi4", tmp_path)
    (tree / "proc/modules").unlink()
    m = Machine(root=tree, euid=lambda: 0)
    (check,) = module_checks(m)
    assert check.level == "WARN" and "unreadable" in check.message and check.fix
    assert not [c for c in preflight_checks(cfg(), m) if c.level == "FAIL"]
