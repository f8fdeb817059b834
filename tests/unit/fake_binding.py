"""The fake ``rgbmatrix`` package (tests/unit/fake_rgbmatrix), importable by name for a while.

One place for what every test of the hzeller driver needs: the fake on ``sys.path``,
a fresh import with its state reset, and afterwards nothing of it left behind (the
module, its path entry, and its matrices, collected while the fake still records
what freeing them does).
"""

from __future__ import annotations

import gc
import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

FAKE_DIR = Path(__file__).parent / "fake_rgbmatrix"


@contextmanager
def imported_fake() -> Iterator[ModuleType]:
    """Yield the fake ``rgbmatrix`` module, reset; remove every trace of it afterwards."""
    sys.path.insert(0, str(FAKE_DIR))
    sys.modules.pop("rgbmatrix", None)
    mod = importlib.import_module("rgbmatrix")
    mod.reset()
    try:
        yield mod
    finally:
        sys.path.remove(str(FAKE_DIR))
        sys.modules.pop("rgbmatrix", None)
        gc.collect()
        mod.reset()
