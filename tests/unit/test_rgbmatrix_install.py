"""deploy/rgbmatrix.sh's logic, run with fake apt, git and venv python (no build, no root).

What it decides: build only on a Pi in ``auto`` mode; the vendored copy before the
public repository at the pinned commit; the compiler packages it installs; a writable
copy to build in; idempotence through the stamp plus a working ``import rgbmatrix``;
exit 3 when it built. The real build (minutes under arm64 emulation) is the arm64
tier's job, not this test's.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

from tests.unit.binding_source import vendor_dir

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "deploy/rgbmatrix.sh"
COMMIT = re.search(r"^RGBMATRIX_COMMIT=(\w+)$", SCRIPT.read_text(), re.M)[1]  # type: ignore[index]

FAKE_PYTHON = """#!/bin/sh
echo "python $*" >> "$LOG"
if [ "$1" = -m ] && [ "$2" = pip ]; then
  [ -n "$PIP_FAILS" ] && exit 1
  if [ "$3" = download ]; then  # the Pillow sdist, for its C headers
    while [ $# -gt 0 ]; do [ "$1" = -d ] && cp "$SDIST" "$2/"; shift; done
    exit 0
  fi
  echo "CPATH=$CPATH" >> "$LOG"
  touch "$VENV_DIR/installed"; exit 0
fi
case "$2" in
  *"import PIL"*) echo 13.0.0; exit 0 ;;
  *"import sys"*) echo 3.11; exit 0 ;;
esac
[ "$1" = -c ] && [ -f "$VENV_DIR/installed" ] && [ -z "$IMPORT_FAILS" ] && exit 0
exit 1
"""
FAKE_GIT = """#!/bin/sh
echo "git $*" >> "$LOG"
case "$3" in
  init) mkdir -p "$2/.git" ;;
  rev-parse) echo "$PINNED" ;;
esac
exit 0
"""
FAKE_DPKG = """#!/bin/sh
for p in $INSTALLED; do [ "$p" = "${@: -1}" ] && { echo "install ok installed"; exit 0; }; done
exit 1
"""
FAKE_APT = """#!/bin/sh
echo "apt-get $*" >> "$LOG"
"""
FAKE_APT_MARK = """#!/bin/sh
echo "apt-mark $*" >> "$LOG"
"""


def pillow_sdist(tmp: Path, version: str = "13.0.0") -> Path:
    """A stand-in for Pillow's sdist: only the C headers the binding's shim includes."""
    top = tmp / "sdist" / f"pillow-{version}"
    (top / "src/libImaging").mkdir(parents=True)
    (top / "src/libImaging/Imaging.h").write_text("/* Imaging.h */\n")
    (top / "src/libImaging/ImPlatform.h").write_text("/* ImPlatform.h */\n")
    out = tmp / f"pillow-{version}.tar.gz"
    subprocess.run(["tar", "-czf", str(out), "-C", str(tmp / "sdist"), top.name], check=True)
    return out


def _tool(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


class Box:
    """A fake host: a venv, tools on PATH, a device tree and a log of what ran."""

    def __init__(self, tmp: Path, model: str | None = "Raspberry Pi 5 Model B Rev 1.0") -> None:
        self.tmp = tmp
        self.venv = tmp / "venv"
        (self.venv / "bin").mkdir(parents=True)
        _tool(self.venv / "bin/python", FAKE_PYTHON)
        self.bin = tmp / "bin"
        self.bin.mkdir()
        _tool(self.bin / "git", FAKE_GIT)
        _tool(self.bin / "dpkg-query", FAKE_DPKG.replace("${@: -1}", "$4"))
        _tool(self.bin / "apt-get", FAKE_APT)
        _tool(self.bin / "apt-mark", FAKE_APT_MARK)
        self.sdist = pillow_sdist(tmp)
        self.root = tmp / "host"
        (self.root / "proc/device-tree").mkdir(parents=True)
        if model:
            (self.root / "proc/device-tree/model").write_text(model + "\0")
        self.log = tmp / "log"
        self.log.write_text("")
        self.lbsrc = tmp / "lightbox"  # a LightBox tree without a vendored copy
        self.lbsrc.mkdir()
        self.work = tmp / "work"
        self.env = {**os.environ, "PATH": f"{self.bin}:{os.environ['PATH']}",
                    "LOG": str(self.log), "VENV_DIR": str(self.venv), "PINNED": COMMIT,
                    "LIGHTBOX_HOST_ROOT": str(self.root), "INSTALLED": "",
                    "SDIST": str(self.sdist)}

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        self.log.write_text("")
        return subprocess.run(
            ["bash", str(SCRIPT), str(self.venv), "--lightbox-src", str(self.lbsrc),
             "--work", str(self.work), *args],
            env={**self.env, **env}, capture_output=True, text=True, timeout=60, check=False)

    def ran(self) -> list[str]:
        return self.log.read_text().splitlines()


def vendored(tmp: Path) -> Path:
    lib = tmp / "vendor/rpi-rgb-led-matrix"
    (lib / "bindings/python/rgbmatrix").mkdir(parents=True)
    (lib / "CMakeLists.txt").write_text("project(rgbmatrix)\n")
    (lib / "bindings/python/rgbmatrix/core.pyx").write_text("# core\n")
    for p in (lib, *lib.rglob("*")):
        p.chmod(p.stat().st_mode & ~0o222)  # read-only, like ../shared/vendor
    return lib


@pytest.fixture
def box(tmp_path: Path) -> Box:
    return Box(tmp_path)


def test_builds_from_the_vendored_copy_once(box: Box) -> None:
    lib = vendored(box.tmp)
    first = box.run("--source", str(lib))
    assert first.returncode == 3, first.stderr
    ran = box.ran()
    assert any(r.startswith("apt-get install") and "build-essential cmake python3-dev" in r
               for r in ran)
    pip = [r for r in ran if " -m pip install " in r]
    assert pip and pip[0].endswith(str(box.work)), pip  # a writable copy, not the original
    assert (box.work / "bindings/python/rgbmatrix/core.pyx").is_file()
    assert not any(r.startswith("git ") for r in ran)
    assert "vendored copy" in first.stdout
    again = box.run("--source", str(lib), INSTALLED="build-essential cmake python3-dev")
    assert again.returncode == 0 and "already built" in again.stdout
    assert not [r for r in box.ran() if "pip" in r or r.startswith("apt-get")]


def test_finds_the_vendored_copy_beside_the_repository(box: Box) -> None:
    vendored(box.tmp / "shared")  # <parent>/shared/vendor/..., as ../shared beside a checkout
    result = box.run("--lightbox-src", str(box.lbsrc))
    assert result.returncode == 3 and "vendored copy" in result.stdout, result.stderr


def test_a_changed_source_or_a_broken_import_rebuilds(box: Box) -> None:
    lib = vendored(box.tmp)
    assert box.run("--source", str(lib)).returncode == 3
    core = lib / "bindings/python/rgbmatrix/core.pyx"
    core.chmod(0o644)
    core.write_text("# core, newer\n")
    assert box.run("--source", str(lib)).returncode == 3
    (box.venv / "installed").unlink()  # e.g. the venv was recreated
    assert box.run("--source", str(lib)).returncode == 3


def test_without_a_vendored_copy_clones_the_pinned_commit(box: Box) -> None:
    result = box.run()
    assert result.returncode == 3, result.stderr
    ran = box.ran()
    fetch = [r for r in ran if r.startswith("git -C") and " fetch " in r]
    assert fetch and fetch[0].endswith(f"https://github.com/hzeller/rpi-rgb-led-matrix {COMMIT}")
    assert any("apt-get install" in r and "git" in r for r in ran)
    assert next(r for r in ran if " -m pip install " in r).endswith(str(box.work))
    assert (box.venv / ".rgbmatrix-build").read_text().strip() == f"git:{COMMIT}"


def test_auto_skips_off_a_pi_and_skip_never_builds(tmp_path: Path) -> None:
    laptop = Box(tmp_path / "a", model=None)
    r = laptop.run()
    assert r.returncode == 0 and "not a Raspberry Pi" in r.stdout and laptop.ran() == []
    pi = Box(tmp_path / "b")
    r = pi.run("--mode", "skip")
    assert r.returncode == 0 and pi.ran() == []
    forced = laptop.run("--mode", "build", "--source", str(vendored(tmp_path / "a")))
    assert forced.returncode == 3


def test_failures_exit_nonzero_with_a_message(box: Box) -> None:
    lib = vendored(box.tmp)
    r = box.run("--source", str(lib), IMPORT_FAILS="1")
    assert r.returncode == 1 and "import rgbmatrix" in r.stderr
    assert not (box.venv / ".rgbmatrix-build").exists()
    r = box.run("--source", str(lib), PIP_FAILS="1")
    assert r.returncode not in (0, 3)
    r = box.run("--source", str(box.tmp))
    assert r.returncode == 1 and "not the rpi-rgb-led-matrix source" in r.stderr
    assert box.run("--mode", "sometimes").returncode == 1


def test_offline_wheels_reach_pip(box: Box) -> None:
    r = box.run("--source", str(vendored(box.tmp)), "--wheels", str(box.tmp))
    assert r.returncode == 3
    assert any(f"--no-index --find-links {box.tmp}" in x for x in box.ran())
    # The Pillow sdist in the wheel folder is used as it is: nothing is downloaded.
    assert not [x for x in box.ran() if " pip download " in x]


def test_the_build_sees_pillows_headers_and_keeps_libpython(box: Box) -> None:
    # shims/pillow.c includes Imaging.h, which no Pillow wheel ships: it comes from the
    # sdist of the venv's own Pillow version, on CPATH for the compiler.
    r = box.run("--source", str(vendored(box.tmp)))
    assert r.returncode == 3, r.stderr
    ran = box.ran()
    assert any("pip download" in x and "pillow==13.0.0" in x for x in ran), ran
    include = box.work / "build-pillow-include"
    assert (include / "Imaging.h").is_file() and (include / "ImPlatform.h").is_file()
    assert any(x.startswith("CPATH=") and str(include) in x for x in ran), ran
    # The extension links libpython3.11: installed, and kept when build tools are removed.
    assert any(x.startswith("apt-get install") and "libpython3.11" in x for x in ran)
    assert "apt-mark manual libpython3.11" in ran


def test_a_wheel_cache_builds_once_and_installs_the_wheel(box: Box) -> None:
    cache = box.tmp / "wheel-cache"
    lib = vendored(box.tmp)
    fake_wheel = 'mkdir -p "$d"; touch "$d/rgbmatrix-0.0.1-cp311-cp311-linux_aarch64.whl"'
    pip_wheel = box.bin.parent / "venv/bin/python"
    pip_wheel.write_text(pip_wheel.read_text().replace(
        '  echo "CPATH=$CPATH" >> "$LOG"',
        '  if [ "$3" = wheel ]; then d=""; while [ $# -gt 0 ]; do [ "$1" = -w ] && d="$2"; '
        f'shift; done; {fake_wheel}; exit 0; fi\n  echo "CPATH=$CPATH" >> "$LOG"'))
    assert box.run("--source", str(lib), "--wheel-cache", str(cache)).returncode == 3
    first = box.ran()
    assert any(" -m pip wheel " in x for x in first)
    assert any(" -m pip install " in x and "rgbmatrix-0.0.1" in x for x in first)
    (box.venv / ".rgbmatrix-build").unlink()  # a fresh venv: the cached wheel is reused
    assert box.run("--source", str(lib), "--wheel-cache", str(cache)).returncode == 3
    assert not any(" -m pip wheel " in x for x in box.ran())


def test_the_pinned_commit_is_the_vendored_one_and_the_documented_one() -> None:
    readme = (vendor_dir().parent / "README.md").read_text()
    assert COMMIT in readme
    assert COMMIT in (REPO / "docs/hardware.md").read_text()


def test_install_sh_runs_it_and_counts_a_build_as_a_change() -> None:
    text = (REPO / "deploy/install.sh").read_text()
    assert 'bash "$SRC/deploy/rgbmatrix.sh" "$VENV" --mode "$RGBMATRIX"' in text
    assert '3) changed "rgbmatrix built into $VENV"; UPGRADED=1' in text
    assert "--rgbmatrix) RGBMATRIX=" in text
