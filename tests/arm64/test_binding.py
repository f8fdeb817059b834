"""LightBox's options against the REAL ``RGBMatrixOptions``, and the fake against the real.

Every option the driver maps must be a real attribute that takes the values the settings
schema allows (their extremes included) and reads back what was set. Then the fake of
tests/unit is held to the real binding value by value: every setter, with ints at and
past the C ranges, floats, strings, bytes, None and bools; a difference is a fake that
lets a unit test pass where the Pi would fail (or the reverse).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, get_args

import pytest
from annotated_types import Ge, Le

from appliance.display.hzeller.driver import OPTION_MAP, apply_options, option_values
from appliance.settings import DisplaySettings

#: Values thrown at every setter of both bindings.
PROBES: tuple[Any, ...] = (0, 1, 7, 255, 256, -1, 2**31 - 1, 2**31, 2**32 - 1, 2**32,
                           3.7, -0.5, 255.9, "7", "RGB", b"RGB", None, True, False)
#: String options the library leaves NULL until set: reading them first crashes.
NULL_UNTIL_SET = frozenset({"pixel_mapper_config", "panel_type"})


def outcome(mod: ModuleType, name: str, value: Any) -> tuple[str, Any]:
    """Set ``name`` to ``value`` on fresh options; return ('ok', read back) or ('raise', type)."""
    o = mod.RGBMatrixOptions()
    try:
        setattr(o, name, value)
    except Exception as exc:
        return ("raise", type(exc).__name__)
    return ("ok", getattr(o, name))


def test_every_mapped_option_is_a_real_attribute(real: ModuleType) -> None:
    cls = type(real.RGBMatrixOptions())
    missing = [attr for attr, _ in OPTION_MAP.values() if not hasattr(cls, attr)]
    assert missing == []
    assert hasattr(cls, "daemon") and hasattr(cls, "rp1_rio")


def test_default_settings_apply_with_nothing_skipped(real: ModuleType) -> None:
    o = real.RGBMatrixOptions()
    applied, skipped = apply_options(o, DisplaySettings(driver="rgbmatrix"))
    assert skipped == [] and set(applied) == {a for a, _ in OPTION_MAP.values()}


def _range(field: str) -> tuple[int, int] | None:
    info = DisplaySettings.model_fields[field]
    low = next((m.ge for m in info.metadata if isinstance(m, Ge)), None)
    high = next((m.le for m in info.metadata if isinstance(m, Le)), None)
    if low is None or high is None:
        args = get_args(info.annotation)
        if args and all(isinstance(a, int) and not isinstance(a, bool) for a in args):
            return min(args), max(args)
        return None
    return int(low), int(high)  # type: ignore[call-overload]


@pytest.mark.parametrize("key", sorted(k for k in OPTION_MAP if _range(k)))
def test_the_schemas_extremes_reach_the_real_binding(real: ModuleType, key: str) -> None:
    bounds = _range(key)
    assert bounds is not None
    for value in bounds:
        if key == "rows" and value % 2:
            value -= 1
        settings = DisplaySettings.model_construct(**{**DisplaySettings().__dict__,
                                                      key: value})
        o = real.RGBMatrixOptions()
        applied, _ = apply_options(o, settings)
        assert getattr(o, OPTION_MAP[key][0]) == applied[OPTION_MAP[key][0]] == value


def test_strings_and_flags_read_back_as_the_binding_stores_them(real: ModuleType) -> None:
    settings = DisplaySettings(driver="rgbmatrix", hardware_mapping="adafruit-hat-pwm",
                               led_rgb_sequence="RBG", pixel_mapper_config="Rotate:90",
                               panel_type="FM6126A", drop_priv_user="daemon",
                               drop_priv_group="daemon", rp1_rio=True, drop_privileges=False,
                               disable_hardware_pulsing=True)
    o = real.RGBMatrixOptions()
    apply_options(o, settings)
    assert o.hardware_mapping == b"adafruit-hat-pwm" and o.led_rgb_sequence == b"RBG"
    assert o.pixel_mapper_config == b"Rotate:90" and o.panel_type == b"FM6126A"
    assert o.drop_priv_user == b"daemon" and o.drop_priv_group == b"daemon"
    assert (o.rp1_rio, o.drop_privileges, o.disable_hardware_pulsing) == (1, 0, True)
    assert option_values(settings)["rp1_rio"] == 1  # ints for the uint8_t flags


def test_the_fake_has_the_real_options(real: ModuleType, fake: ModuleType) -> None:
    def names(mod: ModuleType) -> set[str]:
        cls = type(mod.RGBMatrixOptions())
        return {n for n in dir(cls) if not n.startswith("_")} - {"set_calls", "values"}

    assert names(fake) == names(real)


def test_fresh_options_read_as_the_real_defaults(real: ModuleType, fake: ModuleType) -> None:
    r, f = real.RGBMatrixOptions(), fake.RGBMatrixOptions()
    for name in sorted(set(fake.FIELDS) - NULL_UNTIL_SET):
        assert getattr(f, name) == getattr(r, name), name


def test_every_setter_behaves_as_the_real_one(real: ModuleType, fake: ModuleType) -> None:
    diffs = []
    for name in sorted(fake.FIELDS):
        for value in PROBES:
            want, got = outcome(real, name, value), outcome(fake, name, value)
            if want != got:
                diffs.append(f"{name} = {value!r}: real {want}, fake {got}")
    assert diffs == [], "\n".join(diffs)
