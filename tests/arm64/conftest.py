"""The real-binding tier: runs inside the emulated arm64 root that scripts/test-arm64 makes.

Collected only with LIGHTBOX_ARM64=1 (tests/conftest.py). Every test needs the REAL
``rgbmatrix`` module (hzeller's binding, built from the vendored source) on an aarch64
interpreter: where either is missing it skips, and with CI=true it FAILS, so a tier
that silently tested nothing cannot pass.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import need
from tests.unit.fixtures_sys import make_tree

FAKE_DIR = Path(__file__).resolve().parents[1] / "unit" / "fake_rgbmatrix"
HINT = "run scripts/test-arm64, which builds the arm64 root and the binding"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test here ``arm64``."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.arm64)


@pytest.fixture(scope="session", autouse=True)
def in_the_tier() -> None:
    """Fail in CI, skip elsewhere, unless this is the arm64 root with the real binding."""
    need("an aarch64 interpreter", platform.machine() == "aarch64", HINT)
    need("hzeller's rgbmatrix binding", importlib.util.find_spec("rgbmatrix") is not None,
         HINT)


@pytest.fixture(scope="session")
def real() -> ModuleType:
    """The real binding."""
    import rgbmatrix

    assert "fake" not in str(getattr(rgbmatrix, "__version__", "")), rgbmatrix.__file__
    return rgbmatrix


@pytest.fixture(scope="session")
def fake() -> Iterator[ModuleType]:
    """The test fake, loaded under another name beside the real one."""
    spec = importlib.util.spec_from_file_location(
        "fake_rgbmatrix", FAKE_DIR / "rgbmatrix" / "__init__.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["fake_rgbmatrix"] = mod
    spec.loader.exec_module(mod)
    yield mod
    sys.modules.pop("fake_rgbmatrix", None)


@pytest.fixture
def pi4_tree(tmp_path: Path) -> Path:
    """A fake Pi 4 host tree: device-tree model, /dev/mem and /dev/gpiomem, no sound module."""
    return make_tree("pi4", tmp_path)


def run_python(code: str, env: dict[str, str] | None = None,
               timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (a segfault or exit(1) must not kill the test)."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=timeout_s, env={**os.environ, **(env or {})},
                          cwd=str(Path(__file__).resolve().parents[2]))
