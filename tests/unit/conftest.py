"""Unit-test fixtures shared by every module in tests/unit."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from appliance.ops import checks

#: Users and groups a box has (install.sh makes lightbox; Raspberry Pi OS has gpio) and this
#: test machine may not.
BOX_NAMES = frozenset({"lightbox", "gpio"})


@pytest.fixture(autouse=True)
def box_users(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the preflight see the installer's ``lightbox`` user and group, as on a box."""
    def with_box(real: Callable[[str], bool]) -> Callable[[str], bool]:
        return lambda name: name in BOX_NAMES or real(name)

    monkeypatch.setattr(checks, "_user_exists", with_box(checks._user_exists))
    monkeypatch.setattr(checks, "_group_exists", with_box(checks._group_exists))
