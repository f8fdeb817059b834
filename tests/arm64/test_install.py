"""deploy/install.sh in a fresh arm64 root: the real build of the binding, then diagnose.

The tier's root is fresh on every run (scripts/test-arm64 unpacks the cached tarball),
so the first install is a real first install: Debian packages present, no network,
wheels from /wheels (LIGHTBOX_TIER_WHEELS), and hzeller's library built from the
vendored source by deploy/rgbmatrix.sh. Then the service venv imports ``rgbmatrix``,
`lightbox diagnose` prints what it prints on a Pi 4 (and a Pi 5) without a panel (a
fake host tree through LIGHTBOX_HOST_ROOT), and a second install changes nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.unit.fixtures_sys import make_tree

pytestmark = [pytest.mark.timeout(2400), pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
VENV = Path("/opt/lightbox/venv")
SETTINGS = "/etc/lightbox/settings.json"
TIMES: dict[str, float] = {}


def install(tree: Path) -> subprocess.CompletedProcess[str]:
    wheels = os.environ.get("LIGHTBOX_TIER_WHEELS", "/wheels")
    cmd = ["bash", str(REPO / "deploy/install.sh"), "--source", str(REPO), "--wheels", wheels,
           "--no-start", "--rgbmatrix", "auto"]
    # auto builds on a Pi: the fake tree's device-tree model says Raspberry Pi 4.
    return subprocess.run(cmd, capture_output=True, text=True, timeout=2400,
                          env={**os.environ, "LIGHTBOX_HOST_ROOT": str(tree)})


def record(name: str, seconds: float) -> None:
    TIMES[name] = round(seconds, 1)
    out = os.environ.get("LIGHTBOX_TIER_OUT")
    if out:
        (Path(out) / "install-times.json").write_text(json.dumps(TIMES, indent=2))


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    if VENV.exists():
        pytest.fail(f"{VENV} exists: the tier needs a fresh root", pytrace=False)
    tree = make_tree("pi4", tmp_path_factory.mktemp("host"))
    t0 = time.monotonic()
    r = install(tree)
    record("install_first_s", time.monotonic() - t0)
    assert r.returncode == 0, f"{r.stdout[-6000:]}\n{r.stderr[-6000:]}"
    return r


def test_first_install_builds_the_binding(installed: subprocess.CompletedProcess[str]) -> None:
    assert "rgbmatrix built into /opt/lightbox/venv" in installed.stdout, installed.stdout
    r = subprocess.run([str(VENV / "bin/python"), "-c",
                        "import rgbmatrix, rgbmatrix.core as c; "
                        "o = rgbmatrix.RGBMatrixOptions(); o.rp1_rio = 1; print(c.__file__)"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    core = r.stdout.strip()
    ldd = subprocess.run(["ldd", core], capture_output=True, text=True, timeout=60).stdout
    if "libpython3.11" in ldd:  # then it must survive `apt autoremove`
        manual = subprocess.run(["apt-mark", "showmanual"], capture_output=True, text=True,
                                timeout=60).stdout.split()
        assert "libpython3.11" in manual
    assert "not found" not in ldd, ldd


def diagnose(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["/usr/local/bin/lightbox", "diagnose", "--settings", SETTINGS,
                           "--broker-timeout", "1"], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "LIGHTBOX_HOST_ROOT": str(tree)})


def lines(out: str) -> dict[str, str]:
    found = {}
    for line in out.splitlines():
        level, _, rest = line.strip().partition("  ")
        if level in ("PASS", "WARN", "FAIL", "SKIP") and ":" in rest:
            name, message = rest.split(":", 1)
            found.setdefault(name.strip(), f"{level} {message.strip()}")
    return found


def test_diagnose_on_a_pi4_without_a_panel(installed: subprocess.CompletedProcess[str],
                                           tmp_path: Path) -> None:
    r = diagnose(make_tree("pi4", tmp_path))
    seen = lines(r.stdout)
    assert seen["settings"].startswith("PASS"), r.stdout
    assert seen["board"].startswith("PASS") and "Raspberry Pi 4" in seen["board"]
    assert seen["rgbmatrix"].startswith("PASS importable") and "/opt/lightbox/venv" in \
        seen["rgbmatrix"], r.stdout
    assert seen["device nodes"].startswith("PASS") and "/dev/mem is accessible" in \
        seen["device nodes"]
    assert seen["privileges"].startswith("PASS") and "lightbox:lightbox" in seen["privileges"]
    assert seen["snd_bcm2835"].startswith("PASS")
    assert "broker" in seen and "service" in seen  # no broker or systemd here: reported
    assert r.returncode == 1  # the broker is down in this root: diagnose says so


def test_diagnose_on_a_pi5_sees_the_rp1_option(installed: subprocess.CompletedProcess[str],
                                               tmp_path: Path) -> None:
    r = diagnose(make_tree("pi5", tmp_path))
    seen = lines(r.stdout)
    assert seen["board"].startswith("PASS") and "RP1" in seen["board"], r.stdout
    assert seen["rgbmatrix"].startswith("PASS importable"), r.stdout  # has rp1_rio
    assert seen["RP1 PIO"].startswith("PASS") and seen["snd_bcm2835"].startswith("SKIP")


def test_diagnose_without_proc_modules(installed: subprocess.CompletedProcess[str],
                                       tmp_path: Path) -> None:
    tree = make_tree("pi4", tmp_path)
    (tree / "proc/modules").unlink()
    seen = lines(diagnose(tree).stdout)
    assert seen["snd_bcm2835"].startswith("WARN") and "unreadable" in seen["snd_bcm2835"]


def test_second_install_changes_nothing(installed: subprocess.CompletedProcess[str],
                                        tmp_path: Path) -> None:
    t0 = time.monotonic()
    r = install(make_tree("pi4", tmp_path))
    record("install_second_s", time.monotonic() - t0)
    assert r.returncode == 0, r.stderr
    assert "LightBox is installed; nothing changed." in r.stdout, r.stdout
    assert "rgbmatrix: already built" in r.stdout
