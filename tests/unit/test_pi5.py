"""The Pi 5 (RP1) in `lightbox diagnose`, the preflight and the driver, on fake device trees.

The rules come from the vendored library (lib/rp1/, lib/led-matrix.cc): ``rp1_rio`` 0
needs /dev/pio0, 1 needs /dev/gpiomem0 or /dev/mem (else it falls back to PIO); only
some mappings and row address types 0/2. The Pi 3 and 4 keep their checks.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from appliance.display import DisplayError
from appliance.display.hzeller import RGBMatrixDisplay
from appliance.display.hzeller.preflight import module_checks, preflight_checks
from appliance.display.hzeller.rp1 import PIO_MAPPINGS, RIO_MAPPINGS, is_pi5
from appliance.ops.checks import Machine
from appliance.settings import DisplaySettings
from tests.unit.binding_source import vendor_dir
from tests.unit.fixtures_sys import load_sound_module, make_tree
from tests.unit.test_diagnose import diag, levels
from tests.unit.test_display_hzeller import fake as fake

PI5 = "Raspberry Pi 5 Model B Rev 1.0"


def pi5_tree(tmp_path: Path, *, drop: tuple[str, ...] = ()) -> Path:
    root = make_tree("pi5", tmp_path)
    for node in drop:
        (root / node.lstrip("/")).unlink()
    return root


def display(**kw: Any) -> dict[str, Any]:
    return {"device_id": "kitchen", "mqtt": {"username": "kitchen"},
            "display": {"driver": "rgbmatrix", "rows": 32, "cols": 64, **kw}}


def by_name(d: Any, name: str) -> list[str]:
    return [c.line() for c in d.checks if c.name == name]


@pytest.mark.parametrize(("model", "want"), [
    (PI5, True), ("Raspberry Pi 500 Rev 1.0", True),
    ("Raspberry Pi Compute Module 5 Rev 1.0", True), ("Raspberry Pi 4 Model B Rev 1.4", False),
    ("Raspberry Pi 3 Model B Plus Rev 1.3", False), (None, False)])
def test_pi5_family_is_recognised_from_the_device_tree_model(model: str | None,
                                                             want: bool) -> None:
    assert is_pi5(model) is want


def test_healthy_pi5_passes_and_no_longer_warns_about_the_library(tmp_path: Path) -> None:
    d = diag(pi5_tree(tmp_path), tmp_path, data=display())
    assert d.ok()
    lv = levels(d)
    assert lv["board"] == "PASS" and "RP1's PIO" in by_name(d, "board")[0]
    assert "does not drive" not in d.text()
    assert lv["RP1 PIO"] == "PASS" and lv["RP1 RIO"] == "PASS"
    # Sound and dtparam=audio (on in this tree) do not matter to the RP1 backends.
    assert lv["snd_bcm2835"] == "SKIP" and lv["boot config"] == "SKIP"
    assert "device nodes" not in lv  # the Pi 4's /dev/gpiomem check does not apply


def test_pio_mode_without_dev_pio0_fails_with_the_fix(tmp_path: Path) -> None:
    d = diag(pi5_tree(tmp_path, drop=("/dev/pio0",)), tmp_path, data=display())
    assert not d.ok()
    (line,) = by_name(d, "RP1 PIO")
    assert "FAIL" in line and "/dev/pio0 does not exist" in line and "rp1_rio true" in line
    # The same Pi in RIO mode is fine: /dev/gpiomem0 is there.
    root = pi5_tree(tmp_path / "b", drop=("/dev/pio0",))
    d = diag(root, tmp_path / "b", data=display(rp1_rio=True))
    assert levels(d)["RP1 RIO"] == "PASS" and levels(d)["RP1 PIO"] == "SKIP" and d.ok()
    assert "registered I/O" in by_name(d, "board")[0]


def test_rio_mode_without_its_nodes_falls_back_to_pio(tmp_path: Path) -> None:
    machine = Machine(root=pi5_tree(tmp_path, drop=("/dev/gpiomem0", "/dev/mem")),
                      euid=lambda: 0)
    checks = preflight_checks(DisplaySettings(driver="rgbmatrix", rp1_rio=True), machine)
    rio = next(c for c in checks if c.name == "RP1 RIO")
    assert rio.level == "WARN" and "falls back to the PIO" in rio.message
    assert not [c for c in checks if c.level == "FAIL"]
    (machine.root / "dev/pio0").unlink()
    checks = preflight_checks(DisplaySettings(driver="rgbmatrix", rp1_rio=True), machine)
    assert [c.name for c in checks if c.level == "FAIL"] == ["RP1 RIO"]


@pytest.mark.parametrize(("change", "field"), [
    ({"hardware_mapping": "classic-pi1"}, "display.hardware_mapping"),
    ({"hardware_mapping": "regular-pi1", "rp1_rio": True}, "display.hardware_mapping"),
    ({"row_address_type": 1}, "display.row_address_type"),
])
def test_what_the_rp1_backends_refuse_fails_before_the_library(
        tmp_path: Path, change: dict[str, Any], field: str) -> None:
    machine = Machine(root=pi5_tree(tmp_path), euid=lambda: 0)
    checks = preflight_checks(DisplaySettings(driver="rgbmatrix", **change), machine)
    assert [c.name for c in checks if c.level == "FAIL"] == [field]
    # regular-pi1 is fine for the PIO backend, and everything is fine on a Pi 4.
    pi4 = Machine(root=make_tree("pi4", tmp_path / "pi4"), euid=lambda: 0)
    assert not [c for c in preflight_checks(DisplaySettings(driver="rgbmatrix", **change), pi4)
                if c.level == "FAIL"]


def test_sound_module_on_a_pi5_is_no_problem_but_still_is_on_a_pi4(tmp_path: Path) -> None:
    root = pi5_tree(tmp_path)
    load_sound_module(root)
    assert module_checks(Machine(root=root))[0].level == "SKIP"
    pi4 = make_tree("pi4", tmp_path / "x")
    load_sound_module(pi4)
    assert module_checks(Machine(root=pi4))[0].level == "FAIL"


def test_pi3_keeps_its_checks(tmp_path: Path) -> None:
    root = make_tree("pi4", tmp_path)
    (root / "proc/device-tree/model").write_text("Raspberry Pi 3 Model B Plus Rev 1.3\0")
    d = diag(root, tmp_path, data=display(gpio_slowdown=2))
    lv = levels(d)
    assert lv["board"] == "WARN" and lv["device nodes"] == "PASS"
    assert lv["snd_bcm2835"] == "PASS" and lv["boot config"] == "PASS"
    assert "RP1 PIO" not in lv and d.ok()


def _binding_loader(fake_mod: ModuleType) -> Any:
    def load(name: str) -> ModuleType:
        assert name == "rgbmatrix"
        return fake_mod
    return load


def test_old_binding_on_a_pi5_fails_in_diagnose_and_the_driver(
        tmp_path: Path, fake: ModuleType) -> None:
    fake.FEATURES["rp1_rio"] = False
    d = diag(pi5_tree(tmp_path), tmp_path, data=display(), loader=_binding_loader(fake))
    assert levels(d)["rgbmatrix"] == "FAIL" and "predates Pi 5" in by_name(d, "rgbmatrix")[0]
    machine = Machine(root=tmp_path / "pi5", euid=lambda: 0)
    with pytest.raises(DisplayError, match="predates Pi 5"):
        RGBMatrixDisplay(DisplaySettings(driver="rgbmatrix"), machine=machine).start()
    assert fake.live_matrices() == []


def test_driver_on_a_pi5_sets_rp1_rio_as_the_binding_wants(
        tmp_path: Path, fake: ModuleType) -> None:
    machine = Machine(root=pi5_tree(tmp_path), euid=lambda: 0)
    for rio in (False, True):
        d = RGBMatrixDisplay(DisplaySettings(driver="rgbmatrix", rp1_rio=rio), machine=machine)
        d.start()
        (m,) = fake.live_matrices()
        assert m.options["rp1_rio"] == int(rio) and type(m.options["rp1_rio"]) is int
        d.stop()
        del m
        gc.collect()


@pytest.fixture(scope="module")
def rp1_sources() -> Iterator[dict[str, str]]:
    lib = vendor_dir() / "lib/rp1"
    yield {k: (lib / f"rp1_{k}_backend.cc").read_text() for k in ("pio", "rio")}


def test_rp1_mapping_tables_match_the_library(rp1_sources: dict[str, str]) -> None:
    for kind, ours in (("pio", PIO_MAPPINGS), ("rio", RIO_MAPPINGS)):
        body = rp1_sources[kind].split("static bool MappingNameSupported", 1)[1]
        body = body.split("\n}\n", 1)[0]
        assert set(re.findall(r'strcmp\(hardware_mapping, "([^"]+)"\)', body)) == set(ours)
        assert "row_address_type == 0 || row_address_type == 2" in rp1_sources[kind]
        assert 'FileExists("/dev/pio0")' in rp1_sources["pio"]
        assert 'FileExists("/dev/gpiomem0") || FileExists("/dev/mem")' in rp1_sources["rio"]
