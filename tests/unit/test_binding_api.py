"""The fake rgbmatrix agrees with the vendored binding's source, and LightBox's options fit it.

Parses bindings/python/rgbmatrix/core.pyx and cppinc.pxd (tests/unit/binding_source.py)
and lib/*.c[c] of the vendored library at its pinned commit, and diffs them against
tests/unit/fake_rgbmatrix and the settings: a new option, a renamed argument, a changed
C type or a new hardware mapping upstream fails here, not on a user's Pi.
"""

from __future__ import annotations

import gc
import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, get_args, get_origin

import annotated_types
import pytest
from PIL import Image

from appliance.display.hzeller.driver import OPTION_MAP, UINT8_FLAGS
from appliance.display.hzeller.preflight import MAX_PARALLEL
from appliance.settings import DisplaySettings, grammar
from tests.unit.binding_source import CClass, parse_core, public_api, struct_fields, vendor_dir
from tests.unit.fake_binding import imported_fake

#: The C range of each setter conversion Cython applies (it raises OverflowError outside).
C_RANGES = {"uint8_t": (0, 255), "uint32_t": (0, 2**32 - 1), "int": (-(2**31), 2**31 - 1)}
INT_MAX = 2**31 - 1


@pytest.fixture(scope="module")
def vendor() -> Path:
    return vendor_dir()


@pytest.fixture(scope="module")
def classes(vendor: Path) -> dict[str, CClass]:
    return parse_core((vendor / "bindings/python/rgbmatrix/core.pyx").read_text())


@pytest.fixture(scope="module")
def fields(vendor: Path) -> dict[str, str]:
    return struct_fields((vendor / "bindings/python/rgbmatrix/cppinc.pxd").read_text())


@pytest.fixture
def fake() -> Iterator[ModuleType]:
    """The fake ``rgbmatrix`` module for the test's duration."""
    with imported_fake() as mod:
        yield mod


def real_option_kinds(classes: dict[str, CClass], fields: dict[str, str]) -> dict[str, str]:
    """Each RGBMatrixOptions property -> the conversion its setter applies."""
    opts = classes["RGBMatrixOptions"]
    out = {}
    for name, kind in opts.properties.items():
        assert kind is not None, f"RGBMatrixOptions.{name} is read-only in core.pyx"
        if kind == "":  # untyped: Cython converts to the C field's type
            kind = fields[opts.setter_targets[name]]
        out[name] = kind
    return out


def test_the_parser_sees_the_binding(classes: dict[str, CClass]) -> None:
    assert {"Canvas", "FrameCanvas", "RGBMatrix", "RGBMatrixOptions"} <= set(classes)
    assert "rp1_rio" in classes["RGBMatrixOptions"].properties  # the Pi 5 commit


def test_fake_options_have_the_bindings_names_and_types(
        fake: ModuleType, classes: dict[str, CClass], fields: dict[str, str]) -> None:
    real = real_option_kinds(classes, fields)
    faked = {k: kind for k, (kind, _) in fake.FIELDS.items()}
    assert faked == real
    o = fake.RGBMatrixOptions()
    for name in real:
        assert isinstance(getattr(type(o), name), property), name  # on the class, as Cython


def _fake_api(cls: type, helpers: set[str]) -> tuple[dict[str, list[tuple[str, str | None]]],
                                                     dict[str, bool]]:
    methods: dict[str, list[tuple[str, str | None]]] = {}
    props: dict[str, bool] = {}
    for name, member in inspect.getmembers(cls):
        if name in helpers or (name.startswith("_") and name != "__init__"):
            continue
        if isinstance(member, property):
            props[name] = member.fset is not None
        elif inspect.isfunction(member):
            params = list(inspect.signature(member).parameters.values())[1:]
            methods[name] = [(p.name, None if p.default is p.empty else repr(p.default))
                             for p in params]
    return methods, props


@pytest.mark.parametrize("name", ["RGBMatrix", "FrameCanvas"])
def test_fake_classes_have_the_bindings_methods_signatures_and_properties(
        fake: ModuleType, classes: dict[str, CClass], name: str) -> None:
    real_methods, real_props = public_api(classes[name], classes)
    methods, props = _fake_api(getattr(fake, name), fake.TEST_HELPERS[name])
    if name == "FrameCanvas":
        # The binding makes canvases only through CreateFrameCanvas; the fake's
        # constructor takes its owner (and refuses to be called without one).
        methods.pop("__init__")
    assert set(methods) == set(real_methods)
    for method, params in real_methods.items():
        assert methods[method] == [(p.name, p.default) for p in params], method
    assert props == {p: kind is not None for p, kind in real_props.items()}


def _settings_range(key: str) -> tuple[Any, Any]:
    """(low, high) a DisplaySettings field allows, from its constraints or Literal."""
    info = DisplaySettings.model_fields[key]
    if get_origin(info.annotation) is Literal:
        values = get_args(info.annotation)
        return min(values), max(values)
    if info.annotation is bool:
        return 0, 1
    low = next((m.ge for m in info.metadata if isinstance(m, annotated_types.Ge)), None)
    high = next((m.le for m in info.metadata if isinstance(m, annotated_types.Le)), None)
    return low, high


def test_every_mapped_option_is_a_real_option_of_a_fitting_type(
        classes: dict[str, CClass], fields: dict[str, str]) -> None:
    real = real_option_kinds(classes, fields)
    for key, (attr, _default) in OPTION_MAP.items():
        assert attr in real, f"display.{key} maps to {attr!r}, which the binding lacks"
        kind, annotation = real[attr], DisplaySettings.model_fields[key].annotation
        if kind in ("str", "constchar*"):
            assert annotation is str or all(isinstance(a, str) for a in get_args(annotation))
            continue
        if kind == "bool":
            assert annotation is bool, key
            continue
        low, high = _settings_range(key)
        c_low, c_high = C_RANGES[kind]
        assert low is not None and high is not None, f"display.{key} needs limits"
        # Cython raises outside the setter's C type, and the struct field is an int:
        # a uint32_t above INT_MAX would wrap negative, so the settings stay below both.
        assert c_low <= low and high <= min(c_high, INT_MAX), (key, low, high, kind)
        if annotation is bool:
            assert key in UINT8_FLAGS, f"display.{key} must reach the binding as an int"


def test_the_fake_raises_where_cython_raises(fake: ModuleType) -> None:
    o = fake.RGBMatrixOptions()
    for name, (kind, _) in fake.FIELDS.items():
        if kind in ("uint8_t", "uint32_t"):
            low, high = C_RANGES[kind]
            with pytest.raises(OverflowError):
                setattr(o, name, high + 1)
            with pytest.raises(OverflowError):
                setattr(o, name, low - 1)
            with pytest.raises(TypeError):
                setattr(o, name, "1")
            setattr(o, name, 7.9)  # truncated, as the real binding does (the arm64 tier saw it)
            assert getattr(o, name) == 7
    o.cols = 2**31  # uint32_t into an int field: wraps, as C does
    assert o.cols == -(2**31)
    with pytest.raises(fake.LibraryCrash):
        _ = o.pixel_mapper_config  # NULL until set
    o.pixel_mapper_config = ""
    assert o.pixel_mapper_config == b""
    fresh = fake.RGBMatrixOptions()
    assert (fresh.drop_privileges, fresh.drop_priv_user, fresh.rp1_rio) == (1, b"daemon", 0)


def test_a_null_matrix_raises_nothing_until_it_crashes(fake: ModuleType) -> None:
    # CreateFromOptions returns NULL for invalid options and when no GPIO can be mapped;
    # the binding wraps the NULL without a word (core.pyx RGBMatrix.__cinit__).
    null: list[dict[str, Any]] = [{"rows": 20 + 1}, {"cols": 8}, {"gpio_slowdown": 11},
                                  {"rp1_rio": 2}]
    for change in [*null, {}]:
        fake.GPIO_OK = change != {}
        o = fake.RGBMatrixOptions()
        for k, v in change.items():
            setattr(o, k, v)
        m = fake.RGBMatrix(options=o)
        with pytest.raises(Exception, match="Canvas was destroyed or not initialized"):
            m.SetImage(Image.new("RGB", (1, 1)))  # through _getCanvas: the only check
        for touch in (lambda m: m.width, lambda m: m.CreateFrameCanvas(), lambda m: m.Clear()):
            with pytest.raises(fake.LibraryCrash):
                touch(m)
        del m
        gc.collect()
        assert len(fake.CRASHES) == 1 and "__dealloc__" in fake.CRASHES.pop()
    fake.GPIO_OK = True


def test_what_aborts_is_a_crash_not_an_exception(fake: ModuleType) -> None:
    bad: list[dict[str, Any]] = [{"hardware_mapping": "compute-module"},
                                 {"hardware_mapping": "adafruit-hat", "parallel": 2}]
    for change in bad:
        o = fake.RGBMatrixOptions()
        for k, v in change.items():
            setattr(o, k, v)
        with pytest.raises(fake.LibraryCrash):
            fake.RGBMatrix(options=o)
    m = fake.RGBMatrix()
    with pytest.raises(fake.LibraryCrash):
        m.SwapOnVSync(None)


def _mapping_table(vendor: Path) -> dict[str, int]:
    """lib/hardware-mapping.c without the compute-module #ifdef: name -> parallel chains."""
    text = (vendor / "lib/hardware-mapping.c").read_text()
    text = re.sub(r"#ifdef ENABLE_WIDE_GPIO_COMPUTE_MODULE.*?#endif", "", text, flags=re.S)
    out = {}
    for block in re.findall(r"\{\s*\.name\s*=\s*\"[^\"]+\".*?\n  \}", text, flags=re.S):
        name = re.search(r"\.name\s*=\s*\"([^\"]+)\"", block)
        assert name is not None
        out[name[1]] = 1 + sum(f".p{i}_r1" in block for i in range(1, 6))
    return out


def test_hardware_mappings_and_their_chains_match_the_library(
        fake: ModuleType, vendor: Path) -> None:
    table = _mapping_table(vendor)
    assert table == fake.MAPPINGS
    assert {k: v for k, v in MAX_PARALLEL.items() if k in table} == table
    assert set(MAX_PARALLEL) - set(table) == {"compute-module"}
    cmake = (vendor / "CMakeLists.txt").read_text()
    assert "ENABLE_WIDE_GPIO_COMPUTE_MODULE" not in cmake  # the Python build lacks it


def test_multiplexers_and_pixel_mappers_match_the_library(
        fake: ModuleType, vendor: Path) -> None:
    muxers = (vendor / "lib/multiplex-mappers.cc").read_text().count("result->push_back(new ")
    assert muxers == fake.MUXERS == _settings_range("multiplexing")[1]
    mappers = (vendor / "lib/pixel-mapper.cc").read_text()
    names = set(re.findall(r'GetName\(\) const \{ return "([^"]+)"; \}', mappers))
    assert names == set(grammar.PIXEL_MAPPERS)
