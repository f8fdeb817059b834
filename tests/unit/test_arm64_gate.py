"""The arm64 tier's gate: tests/arm64 is collected only with LIGHTBOX_ARM64=1, and a run
that cannot test the real binding FAILS under CI=true instead of skipping.

Also scripts/test-arm64's own check of its tools (debootstrap, systemd-nspawn, the
qemu-aarch64 binfmt handler): missing ones fail under CI=true and skip elsewhere.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from tests.arm64 import tier

REPO = Path(__file__).resolve().parents[2]


def run_tier_tests(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("CI", "LIGHTBOX_ARM64")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
         "tests/arm64"], cwd=REPO, capture_output=True, text=True, timeout=300,
        env={**clean, "PYTHONDONTWRITEBYTECODE": "1", **env})


def test_not_collected_without_the_switch() -> None:
    r = run_tier_tests()
    assert r.returncode == 5, r.stdout  # pytest: no tests ran
    assert "deselected" in r.stdout and "passed" not in r.stdout and "skipped" not in r.stdout


@pytest.mark.skipif(platform.machine() == "aarch64", reason="this is an arm64 machine")
def test_collected_and_skipped_off_the_tier_outside_ci() -> None:
    r = run_tier_tests(LIGHTBOX_ARM64="1")
    assert r.returncode == 0, r.stdout[-3000:]
    assert "skipped" in r.stdout and "passed" not in r.stdout and "failed" not in r.stdout
    assert "aarch64" in r.stdout or "rgbmatrix" in r.stdout


@pytest.mark.skipif(platform.machine() == "aarch64", reason="this is an arm64 machine")
def test_ci_fails_rather_than_skips_without_the_real_binding() -> None:
    r = run_tier_tests(LIGHTBOX_ARM64="1", CI="true")
    assert r.returncode == 1, r.stdout[-3000:]
    assert "error" in r.stdout and "skipped" not in r.stdout.splitlines()[-1]
    assert "is not available" in r.stdout


def test_the_arm64_tests_carry_the_marker() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
         "--collect-only", "-m", "not arm64", "tests/arm64"], cwd=REPO, capture_output=True,
        text=True, timeout=300, env={**os.environ, "LIGHTBOX_ARM64": "1"})
    assert "deselected" in r.stdout and " selected" not in r.stdout.replace("deselected", ""), \
        r.stdout[-2000:]


def test_the_script_fails_in_ci_and_skips_elsewhere_without_its_tools(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(tier.shutil, "which", lambda name: None)
    assert any("debootstrap" in m for m in tier.missing_tools())
    monkeypatch.setattr(tier, "IN_CI", True)
    assert tier.main([]) == 1
    assert "cannot run here" in capsys.readouterr().err
    monkeypatch.setattr(tier, "IN_CI", False)
    assert tier.main([]) == 0
    assert "SKIPPED" in capsys.readouterr().out


def test_a_missing_binfmt_handler_is_named(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    from tests.deploy import nspawn

    monkeypatch.setattr(nspawn, "host_arch", lambda: "amd64")
    monkeypatch.setattr(nspawn, "Path", lambda p: tmp_path / Path(p).name)
    why = nspawn.foreign_arch_ready("arm64")
    assert why and "qemu-user-static" in why and "update-binfmts --enable qemu-aarch64" in why
    (tmp_path / "qemu-aarch64").write_text("enabled\ninterpreter /x\nflags: P\n")
    assert "F flag" in (nspawn.foreign_arch_ready("arm64") or "")
    (tmp_path / "qemu-aarch64").write_text("enabled\ninterpreter /x\nflags: PF\n")
    assert nspawn.foreign_arch_ready("arm64") is None
    assert nspawn.foreign_arch_ready("amd64") is None
