"""The host side of scripts/test-arm64: make the arm64 root, build the binding, run the tier.

1. An arm64 Debian bookworm root, debootstrapped once through qemu-user-static and cached
   (tests/deploy/nspawn.py ``root_tarball(arch="arm64")``), unpacked fresh for each run.
2. Wheels for arm64 (LightBox's dependencies, pytest, and the binding's build backend:
   scikit-build-core, cython, cmake, ninja) plus Pillow's sdist for its C headers, cached.
3. In the root (systemd-nspawn, no network): a venv with LightBox, then hzeller's binding
   built from the vendored source by deploy/rgbmatrix.sh, its wheel cached.
4. ``pytest tests/arm64`` inside, with LIGHTBOX_ARM64=1 (install.sh's test runs there too).

Prints the time of every step and the test summary; exits with pytest's status. With
the tools missing it fails under CI=true and skips (exit 0, saying so) elsewhere.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.arm64.packages import ARCH, ARM64_PACKAGES
from tests.deploy import nspawn

REPO = Path(__file__).resolve().parents[2]
#: Test runner and the binding's build backend, for the arm64 wheel folder.
EXTRA = ("pytest>=8", "pytest-timeout>=2.3", "scikit-build-core", "cython", "cmake", "ninja")
SDISTS = ("pillow",)
TOOLS = ("debootstrap", "systemd-nspawn", "tar", "dpkg")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def vendor_dir() -> Path:
    """The pinned library source beside the repository (../shared/vendor)."""
    for c in (REPO / "vendor/rpi-rgb-led-matrix", REPO.parent / "shared/vendor/rpi-rgb-led-matrix",
              REPO.parents[1] / "shared/vendor/rpi-rgb-led-matrix"):
        if (c / "bindings/python/rgbmatrix/core.pyx").is_file():
            return c
    raise FileNotFoundError("no vendored rpi-rgb-led-matrix (../shared/vendor)")


def missing_tools() -> list[str]:
    """What this machine lacks for the tier (empty: it can run)."""
    out = [f"{t} (apt-get install debootstrap systemd-container)" for t in TOOLS
           if shutil.which(t) is None]
    if os.geteuid() != 0:
        out.append("root (debootstrap and systemd-nspawn need it)")
    why = nspawn.foreign_arch_ready(ARCH) if shutil.which("dpkg") else None
    if why:
        out.append(why)
    return out


class Tier:
    """One run: a fresh root in ``work``, steps timed into ``times``."""

    def __init__(self, work: Path, log: Path) -> None:
        self.work = work
        self.log = log
        self.root = work / "root"
        self.times: dict[str, float] = {}
        self.notes: list[str] = []

    def step(self, name: str, t0: float) -> None:
        self.times[name] = round(time.monotonic() - t0, 1)
        print(f"==> {name}: {self.times[name]} s", flush=True)

    def prepare(self) -> tuple[Path, Path]:
        t0 = time.monotonic()
        tarball = nspawn.root_tarball(self.notes, arch=ARCH, packages=ARM64_PACKAGES)
        self.step("root", t0)
        t0 = time.monotonic()
        wheels = nspawn.wheelhouse(REPO, self.notes, arch=ARCH, extra=EXTRA, sdists=SDISTS)
        self.step("wheels", t0)
        t0 = time.monotonic()
        self.root.mkdir(parents=True)
        subprocess.run(["tar", "--numeric-owner", "--xattrs", "-C", str(self.root), "-xf",
                        str(tarball)], check=True)
        src = self.work / "src"
        src.mkdir()
        subprocess.run(f"tar -C {REPO} --exclude=./.git --exclude=./.venv "
                       "--exclude=__pycache__ --exclude=./build --exclude='*.egg-info' "
                       f"-cf - . | tar -C {src} -xf -", shell=True, check=True)
        self.step("unpack", t0)
        return wheels, src

    def run(self, script: str, env: dict[str, str] | None = None) -> int:
        wheels, src = self.paths
        binding_cache = nspawn.CACHE / f"rgbmatrix-wheels-{ARCH}"
        binding_cache.mkdir(parents=True, exist_ok=True)
        out = self.work / "out"
        out.mkdir(exist_ok=True)
        ro = {str(wheels): "/wheels", str(vendor_dir().parent): "/shared/vendor"}
        rw = {str(src): "/src", str(binding_cache): "/cache", str(out): "/out"}
        r = nspawn.run(self.root, script, log=self.log, env=env, ro_binds=ro, binds=rw)
        return r.returncode

    def main(self, pytest_args: list[str]) -> int:
        self.paths: tuple[Path, Path] = self.prepare()
        t0 = time.monotonic()
        rc = self.run("set -e; python3 -m venv /opt/tier-venv; /opt/tier-venv/bin/python -m pip "
                      "install -q --disable-pip-version-check --no-index --find-links /wheels "
                      "/src pytest pytest-timeout")
        self.step("venv", t0)
        if rc != 0:
            return self.fail("the tier venv", rc)
        t0 = time.monotonic()
        rc = self.run("bash /src/deploy/rgbmatrix.sh /opt/tier-venv --mode build --wheels /wheels "
                      "--wheel-cache /cache --work /opt/tier-rgbmatrix-src --lightbox-src /src")
        self.step("binding", t0)
        if rc not in (0, 3):
            return self.fail("the binding build", rc)
        t0 = time.monotonic()
        # install.sh's test installs the binding wheel just built (through rgbmatrix.sh's
        # same path), rather than compiling it a second time under emulation.
        env = {"LIGHTBOX_ARM64": "1", "LIGHTBOX_TIER_OUT": "/out", "PYTHONDONTWRITEBYTECODE": "1",
               "CI": os.environ.get("CI", ""), "RGBMATRIX_WHEEL_CACHE": "/cache"}
        args = " ".join(f"'{a}'" for a in pytest_args)
        rc = self.run(f"cd /src && /opt/tier-venv/bin/python -m pytest -p no:cacheprovider "
                      f"-p no:randomly -ra tests/arm64 {args}", env=env)
        self.step("pytest", t0)
        return rc

    def fail(self, what: str, rc: int) -> int:
        print(f"test-arm64: {what} failed (exit {rc}); the log is {self.log}", file=sys.stderr)
        return rc or 1

    def summary(self) -> dict[str, object]:
        extra = self.work / "out/install-times.json"
        installs = json.loads(extra.read_text()) if extra.exists() else {}
        return {"steps_s": self.times, "install": installs, "notes": self.notes}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/test-arm64", description=__doc__)
    parser.add_argument("--keep", action="store_true", help="keep the run's root folder")
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (after --)")
    args = parser.parse_args(argv)
    missing = missing_tools()
    if missing:
        message = "test-arm64: cannot run here: " + "; ".join(missing)
        print(message, file=sys.stderr)
        if IN_CI:
            return 1
        print("SKIPPED (CI=true makes this a failure)")
        return 0
    t0 = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="lightbox-arm64-", dir="/var/tmp"))
    tier = Tier(work, work / "tier.log")
    print(f"==> work folder {work}; full log {tier.log}", flush=True)
    try:
        rc = tier.main(args.pytest_args)
    finally:
        tier.times["total"] = round(time.monotonic() - t0, 1)
        print(json.dumps(tier.summary(), indent=2))
        tail = tier.log.read_text(errors="replace").splitlines()[-40:] if tier.log.exists() else []
        print("\n".join(tail))
        if not args.keep:
            shutil.rmtree(work / "root", ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
