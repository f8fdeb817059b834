"""Panels beyond 64x32: the size LightBox draws after chains, parallel chains and mappers.

The expected sizes are worked out by hand from the vendored lib/pixel-mapper.cc
(``GetSizeMapping`` of each mapper); docs/hardware.md's layout table is read and each
row checked against the settings, the virtual display, the engine's geometry and the
driver on the fake binding (which must report the same size, with no geometry warning).
"""

from __future__ import annotations

import gc
import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from appliance.display import make_display
from appliance.display.hzeller import RGBMatrixDisplay
from appliance.display.hzeller.preflight import option_checks
from appliance.ops.checks import Machine
from appliance.settings import DisplaySettings, SettingsError, validate
from appliance.settings.display_geometry import mapped_size
from tests.unit.fixtures_sys import make_tree
from tests.unit.test_display_hzeller import fake as fake

DOC = Path(__file__).resolve().parents[2] / "docs/hardware.md"


@pytest.mark.parametrize(("cols", "rows", "chain", "parallel", "mapper", "want"), [
    (64, 32, 1, 1, "", (64, 32)),
    (64, 64, 4, 1, "", (256, 64)),
    (64, 64, 4, 1, "U-mapper", (128, 128)),       # (256 / 64) * 32 wide, 2 x 64 high
    (32, 32, 4, 1, "u-mapper", (64, 64)),         # names are case-insensitive
    (48, 32, 2, 1, "U-mapper", (32, 64)),         # 96 columns cut at a 32-pixel boundary
    (64, 32, 2, 1, "Rotate:90", (32, 128)),
    (64, 32, 2, 1, "Rotate:-90", (32, 128)),
    (64, 32, 2, 1, "Rotate:180", (128, 32)),
    (64, 32, 2, 1, "Mirror:V", (128, 32)),
    (64, 64, 4, 1, "U-mapper;Rotate:270", (128, 128)),
    (64, 32, 4, 1, "U-mapper;Rotate:90", (64, 128)),  # mappers apply left to right
    (64, 64, 3, 1, "V-mapper", (64, 192)),
    (64, 64, 2, 2, "V-mapper:Z", (128, 128)),
    (64, 32, 1, 2, "StackToRow:Z", (128, 32)),
    (64, 32, 2, 1, "Remap:64,64|0,0n|0,32n", (64, 64)),
    (64, 32, 3, 1, "U-mapper", (192, 32)),        # odd chain: the library skips U-mapper
    (64, 32, 1, 1, "Nonesuch;Rotate:90", (32, 64)),  # unknown names are skipped, as there
])
def test_mapped_size_follows_the_library(cols: int, rows: int, chain: int, parallel: int,
                                         mapper: str, want: tuple[int, int]) -> None:
    assert mapped_size(cols, rows, chain, parallel, mapper) == want


def layout_rows() -> list[tuple[str, dict[str, Any], tuple[int, int], str]]:
    """(layout, display settings, drawn size, needs) from docs/hardware.md's table."""
    text = DOC.read_text()
    section = text.split("## Bigger displays", 1)[1].split("\n## ", 1)[0]
    out = []
    for line in section.splitlines():
        m = re.match(r"\| ([^|]+) \| `(\{.*\})` \| (\d+)x(\d+) \| ([^|]*)\|$", line)
        if m:
            out.append((m[1].strip(), json.loads(m[2]), (int(m[3]), int(m[4])), m[5].strip()))
    return out


def test_the_docs_table_is_read() -> None:
    assert len(layout_rows()) >= 10


@pytest.mark.parametrize(("layout", "display", "size", "needs"), layout_rows(),
                         ids=[r[0] for r in layout_rows()])
def test_each_documented_layout_draws_the_documented_size(
        layout: str, display: dict[str, Any], size: tuple[int, int], needs: str,
        tmp_path: Path, fake: ModuleType) -> None:
    settings = validate({"display": {**display, "driver": "virtual"}}).display
    assert settings.size == size
    virtual = make_display(settings)
    assert (virtual.width, virtual.height) == size
    assert not [c for c in option_checks(settings) if c.level in ("FAIL", "WARN")]
    if needs:
        assert settings.parallel > 1 and "`regular` or `classic`" in needs
        bad = option_checks(settings.model_copy(update={"hardware_mapping": "adafruit-hat"}))
        assert [c.name for c in bad if c.level == "FAIL"] == ["display.parallel"]
    driver = RGBMatrixDisplay(settings.model_copy(update={"driver": "rgbmatrix"}),
                              machine=Machine(root=make_tree("pi4", tmp_path), euid=lambda: 0))
    driver.start()
    (matrix,) = fake.live_matrices()
    assert (matrix.width, matrix.height) == size == (driver.width, driver.height)
    assert not [w for w in driver.warnings if "library reports" in w]
    driver.stop()
    del matrix
    gc.collect()


def test_a_mapper_that_leaves_nothing_is_refused() -> None:
    with pytest.raises(SettingsError, match="pixel_mapper_config"):
        validate({"display": {"cols": 16, "rows": 16, "chain_length": 2,
                              "pixel_mapper_config": "U-mapper"}})


def test_preflight_warns_when_u_mapper_would_cut_columns() -> None:
    cfg = DisplaySettings(cols=48, rows=32, chain_length=2, pixel_mapper_config="U-mapper")
    (warn,) = [c for c in option_checks(cfg) if c.level == "WARN"]
    assert "folds 96 columns into 32" in warn.message and warn.fix


def test_compute_module_is_refused_before_the_library_aborts() -> None:
    cfg = DisplaySettings(hardware_mapping="compute-module", parallel=3)
    fails = [c for c in option_checks(cfg) if c.level == "FAIL"]
    assert [c.name for c in fails] == ["display.hardware_mapping"]
    assert "ENABLE_WIDE_GPIO_COMPUTE_MODULE" in fails[0].message


def test_stack_to_row_is_a_known_mapper() -> None:
    cfg = DisplaySettings(rows=32, cols=64, parallel=2, pixel_mapper_config="StackToRow")
    assert not [c for c in option_checks(cfg) if c.name == "display.pixel_mapper_config"]


def test_rgbmatrix_emulator_agrees_on_every_documented_layout(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second, independent implementation of the mappers (RGBMatrixEmulator's)."""
    (tmp_path / "emulator_config.json").write_text(
        '{"display_adapter": "raw", "log_level": "error"}')
    monkeypatch.chdir(tmp_path)
    from RGBMatrixEmulator import RGBMatrix, RGBMatrixOptions
    from RGBMatrixEmulator.adapters.raw_adapter import RawAdapter

    for layout, display, size, _needs in layout_rows():
        RawAdapter.INSTANCE = None  # the emulator keeps one adapter per process
        options = RGBMatrixOptions()
        for key, value in display.items():
            setattr(options, key, value)
        matrix = RGBMatrix(options=options)
        assert (matrix.width, matrix.height) == size, layout
    RawAdapter.INSTANCE = None
