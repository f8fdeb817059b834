"""What every operator check is made of: a ``Level``, a ``Check``, a host view and one runner.

Shared by `lightbox diagnose`, `lightbox verify` and the rgbmatrix preflight
(``appliance.display.hzeller.preflight``). ``Machine`` reads the host only
under an injectable root (a fake tree in tests); ``run_command`` is the one
way an operator tool runs a program (a timeout, never a hang, never a crash
when it is missing). Knows nothing of MQTT, displays, settings or what any
check concludes.
"""

from __future__ import annotations

import grp
import os
import pwd
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


class Level(StrEnum):
    """How a check came out; SKIP means it does not apply here (never a failure)."""

    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"
    SKIP = "SKIP"


PASS, WARN, FAIL, SKIP = Level.PASS, Level.WARN, Level.FAIL, Level.SKIP


@dataclass(frozen=True)
class Check:
    """One finding: its level, what was checked, what was seen, and the fix in one sentence."""

    level: Level
    name: str
    message: str
    fix: str = ""

    @property
    def ok(self) -> bool:
        """True when it passed."""
        return self.level is PASS

    def line(self) -> str:
        """Return the finding as one human line (the fix follows WARN and FAIL)."""
        text = f"{self.level:<4}  {self.name}: {self.message}"
        if self.fix and self.level in (WARN, FAIL):
            text += f" -> {self.fix}"
        return text

    def as_dict(self) -> dict[str, str]:
        """Return the finding as JSON-ready data."""
        return {"level": str(self.level), "name": self.name, "message": self.message,
                "fix": self.fix}


def count(checks: list[Check]) -> dict[Level, int]:
    """Count the findings per level (every level present, in PASS, WARN, FAIL, SKIP order)."""
    out = dict.fromkeys(Level, 0)
    for c in checks:
        out[c.level] += 1
    return out


#: Test hook: the host tree (device tree, /dev, /proc) the checks and the driver read.
HOST_ROOT_ENV = "LIGHTBOX_HOST_ROOT"


def host_root() -> Path:
    """Return the host root: ``$LIGHTBOX_HOST_ROOT`` (a fake tree in tests), else ``/``."""
    return Path(os.environ.get(HOST_ROOT_ENV) or "/")


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


@dataclass
class Machine:
    """A read-only view of the host under ``root`` (a fake tree in tests).

    Users and groups are looked up through the system's own name service (as the
    library's getpwnam/getgrnam do), never under ``root``.
    """

    root: Path = field(default_factory=host_root)
    euid: Callable[[], int] = os.geteuid
    access: Callable[[Path, int], bool] = field(default=lambda p, mode: os.access(p, mode))
    user_exists: Callable[[str], bool] = field(default=lambda name: _user_exists(name))
    group_exists: Callable[[str], bool] = field(default=lambda name: _group_exists(name))

    def path(self, rel: str) -> Path:
        """Return ``rel`` (an absolute host path) under the root."""
        return self.root / rel.lstrip("/")

    def read(self, rel: str) -> str | None:
        """Return a file's text, or None when it cannot be read."""
        try:
            return self.path(rel).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None

    def model(self) -> str | None:
        """Return the board model from the device tree, or None."""
        raw = self.read("/proc/device-tree/model")
        return raw.replace("\x00", "").strip() if raw else None

    def is_pi(self) -> bool:
        """True when the device tree says Raspberry Pi."""
        return "raspberry pi" in (self.model() or "").lower()

    def is_pi4(self) -> bool:
        """True on a Raspberry Pi 4, 400 or Compute Module 4."""
        m = (self.model() or "").lower()
        return "raspberry pi 4" in m or "raspberry pi 400" in m or "compute module 4" in m

    def modules(self) -> set[str] | None:
        """Return the loaded kernel modules, or None when /proc/modules is unreadable."""
        raw = self.read("/proc/modules")
        if raw is None:
            return None
        return {line.split()[0] for line in raw.splitlines() if line.strip()}

    def is_root(self) -> bool:
        """True when running as root."""
        return self.euid() == 0

    def usable(self, rel: str) -> bool:
        """True when the node exists and is readable and writable by this process."""
        p = self.path(rel)
        return p.exists() and self.access(p, os.R_OK | os.W_OK)


#: A runner as the checks take it (injectable: tests answer with canned output).
Runner = Callable[[list[str]], str | None]
