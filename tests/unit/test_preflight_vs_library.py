"""Whatever the settings accept and the preflight passes, the library's init accepts too.

The real library answers a bad option with NULL (a crash in the binding's next call) or
``abort()``; the fake binding models each as ``LibraryCrash``. Every edge of every
display option the settings allow, and every mapping with every parallel count, goes
through the driver: either the preflight refuses it with a DisplayError, or the (fake)
library starts. A crash means the preflight missed a rule.
"""

from __future__ import annotations

import gc
from types import ModuleType
from typing import Any, Literal, get_args, get_origin

import annotated_types
import pytest

from appliance.display import DisplayError
from appliance.display.hzeller import RGBMatrixDisplay
from appliance.display.hzeller.driver import OPTION_MAP
from appliance.ops.checks import Machine
from appliance.settings import HARDWARE_MAPPINGS, DisplaySettings
from tests.unit.fixtures_sys import make_tree
from tests.unit.test_display_hzeller import fake as fake


def edge_values(key: str) -> list[Any]:
    """The values at and next to each end of a setting's range, and its default."""
    info = DisplaySettings.model_fields[key]
    if get_origin(info.annotation) is Literal:
        return list(get_args(info.annotation))
    if info.annotation is bool:
        return [False, True]
    low = next((m.ge for m in info.metadata if isinstance(m, annotated_types.Ge)), None)
    high = next((m.le for m in info.metadata if isinstance(m, annotated_types.Le)), None)
    if low is None or high is None:
        return [info.default]
    return sorted({low, low + 1, high - 1, high, info.default})


CASES = [(k, v) for k in OPTION_MAP if k not in ("hardware_mapping", "pixel_mapper_config",
                                                  "panel_type", "drop_priv_user",
                                                  "drop_priv_group")
         for v in edge_values(k)]
CASES += [("hardware_mapping_parallel", (m, p)) for m in HARDWARE_MAPPINGS for p in (1, 2, 3)]
CASES += [("rows", r) for r in (9, 15, 33)]  # odd rows: the schema allows, the library not


def settings_for(key: str, value: Any) -> DisplaySettings | None:
    base: dict[str, Any] = {"driver": "rgbmatrix", "rows": 32, "cols": 64}
    if key == "hardware_mapping_parallel":
        base |= {"hardware_mapping": value[0], "parallel": value[1]}
    else:
        base[key] = value
    try:
        return DisplaySettings(**base)
    except ValueError:
        return None  # the settings refuse it: it never reaches the driver


@pytest.fixture(scope="module")
def pi4(tmp_path_factory: pytest.TempPathFactory) -> Machine:
    """A healthy Pi 4 running as root (nothing here writes to it)."""
    return Machine(root=make_tree("pi4", tmp_path_factory.mktemp("host")), euid=lambda: 0)


@pytest.mark.parametrize(("key", "value"), CASES, ids=[f"{k}={v}" for k, v in CASES])
def test_preflight_refuses_or_the_library_starts(key: str, value: Any, pi4: Machine,
                                                 fake: ModuleType) -> None:
    cfg = settings_for(key, value)
    if cfg is None:
        return
    d = RGBMatrixDisplay(cfg, machine=pi4)
    try:
        d.start()
    except DisplayError as exc:
        assert "fix" in str(exc)  # refused before the library, with the fix
        assert fake.live_matrices() == []
        return
    assert len(fake.live_matrices()) == 1
    d.stop()
    gc.collect()
