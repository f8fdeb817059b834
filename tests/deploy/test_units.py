"""Static checks of deploy/systemd: `systemd-analyze verify` clean, exposure scores under budget.

The units are copied into a throwaway root with everything they reference
(a stub /opt/lightbox/venv/bin/lightbox, the distribution's unit files for
mosquitto.service and network-online.target), so `verify --root` checks them
as they would be installed, without touching this machine.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from appliance.ops.broker import REPO_ROOT
from tests.conftest import need

UNITS = REPO_ROOT / "deploy" / "systemd"
MAIN_UNITS = ("lightbox-engine.service", "lightbox-bridge.service", "lightbox.target")
EXPOSURE_BUDGET = {"lightbox-bridge.service": 3.0, "lightbox-engine.service": 5.0}


def systemd_version() -> int:
    out = subprocess.run(["systemctl", "--version"], capture_output=True, text=True).stdout
    m = re.match(r"systemd (\d+)", out)
    return int(m.group(1)) if m else 0


def analyze() -> str:
    exe = shutil.which("systemd-analyze")
    need("systemd-analyze", exe is not None, "apt-get install systemd (scripts/test does)")
    assert exe is not None
    return exe


def fake_root(tmp_path: Path, with_backoff: bool = False) -> Path:
    root = tmp_path / "root"
    system = root / "etc/systemd/system"
    system.mkdir(parents=True)
    vendor = root / "usr/lib/systemd"
    vendor.mkdir(parents=True)
    host_units = Path("/usr/lib/systemd/system")
    need("systemd unit files", (host_units / "sysinit.target").exists(),
         "systemd must be installed")
    shutil.copytree(host_units, vendor / "system", symlinks=True)
    if not (vendor / "system/mosquitto.service").exists():
        (vendor / "system/mosquitto.service").write_text(
            "[Unit]\nDescription=stand-in\n[Service]\nExecStart=/bin/true\n")
    for name in MAIN_UNITS:
        shutil.copy(UNITS / name, system / name)
    if with_backoff:
        (system / "lightbox-engine.service.d").mkdir()
        shutil.copy(UNITS / "lightbox-engine.service.d/backoff.conf",
                    system / "lightbox-engine.service.d/backoff.conf")
    exe = root / "opt/lightbox/venv/bin/lightbox"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    return root


def verify(root: Path, *units: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([analyze(), "verify", f"--root={root}", "--man=no", *units],
                          capture_output=True, text=True, timeout=60)


def test_units_verify_clean(tmp_path: Path) -> None:
    r = verify(fake_root(tmp_path), *MAIN_UNITS)
    assert r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(), (
        f"systemd-analyze verify complained:\n{r.stdout}{r.stderr}")


def test_verify_would_catch_a_bad_key(tmp_path: Path) -> None:
    """Control: the clean result above is not just verify looking elsewhere."""
    root = fake_root(tmp_path)
    unit = root / "etc/systemd/system/lightbox-engine.service"
    unit.write_text(unit.read_text().replace("[Service]\n", "[Service]\nNoSuchKey=1\n", 1))
    r = verify(root, "lightbox-engine.service")
    assert "NoSuchKey" in r.stdout + r.stderr


def test_backoff_dropin_needs_systemd_254(tmp_path: Path) -> None:
    """The drop-in is clean on >= 254 and would warn on 252: why install.sh gates it."""
    r = verify(fake_root(tmp_path, with_backoff=True), "lightbox-engine.service")
    out = r.stdout + r.stderr
    if systemd_version() >= 254:
        assert not out.strip(), out
    else:
        assert "RestartSteps" in out and "RestartMaxDelaySec" in out, out


def exposure(unit: str) -> float:
    r = subprocess.run([analyze(), "security", "--offline=true", "--no-pager",
                        str(UNITS / unit)], capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", r.stdout + r.stderr)
    assert m, f"no exposure score in:\n{r.stdout}{r.stderr}"
    return float(m.group(1))


@pytest.mark.parametrize("unit", sorted(EXPOSURE_BUDGET))
def test_exposure_under_budget(unit: str) -> None:
    score = exposure(unit)
    print(f"{unit}: exposure {score}")
    assert score < EXPOSURE_BUDGET[unit], f"{unit} exposure {score} >= {EXPOSURE_BUDGET[unit]}"


def unit_settings(name: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in (UNITS / name).read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def test_engine_unit_keeps_gpio_and_the_contract() -> None:
    s = unit_settings("lightbox-engine.service")
    assert s["Type"] == ["notify"] and s["NotifyAccess"] == ["main"]
    assert s["RestartPreventExitStatus"] == ["78"] and s["Restart"] == ["on-failure"]
    assert s["TimeoutStopSec"] == ["10"] and s["MemoryMax"] == ["512M"]
    assert "User" not in s, "root is needed for /dev/mem; rgbmatrix drops to lightbox"
    assert s["Group"] == ["lightbox"]
    assert set(s["CapabilityBoundingSet"][0].split()) == {
        "CAP_SYS_RAWIO", "CAP_SYS_NICE", "CAP_SETUID", "CAP_SETGID"}
    assert s["DevicePolicy"] == ["closed"]
    assert {"/dev/mem rw", "/dev/gpiomem rw"} <= set(s["DeviceAllow"])
    assert "PrivateDevices" not in s
    filters = " ".join(s["SystemCallFilter"])
    assert "@privileged" not in filters and "@resources" not in filters
    assert s["ExecStopPost"][0].startswith("-/opt/lightbox/venv/bin/lightbox blank")
    assert not {"RestartSteps", "RestartMaxDelaySec"} & set(s)


def test_bridge_unit_is_unprivileged() -> None:
    s = unit_settings("lightbox-bridge.service")
    assert s["User"] == ["lightbox-bridge"]
    assert s["CapabilityBoundingSet"] == [""] and s["PrivateDevices"] == ["yes"]
    assert "~@privileged @resources" in s["SystemCallFilter"]
