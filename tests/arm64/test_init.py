"""The REAL library's start, as far as an emulated arm64 root without GPIO lets it go.

There is no /dev/mem or /dev/gpiomem here (systemd-nspawn's /dev), so the real
``CreateFromOptions`` can only validate the options and then fail to map GPIO: the
binding then holds a NULL matrix and raises nothing. Each case runs in a fresh
interpreter, so a segfault or an ``exit(1)`` shows as its exit status instead of killing
pytest. LIGHTBOX_HOST_ROOT shows the preflight a fake Pi 4 tree (device tree, device
nodes, /proc/modules) while the library sees the real, GPIO-less /dev.
"""

from __future__ import annotations

import signal
from pathlib import Path

from tests.arm64.conftest import run_python
from tests.unit.fixtures_sys import load_sound_module, remove_device_nodes

MAKE = """
import rgbmatrix
o = rgbmatrix.RGBMatrixOptions()
o.rows, o.cols, o.hardware_mapping = {rows}, {cols}, {mapping!r}
o.drop_priv_user = o.drop_priv_group = "daemon"
m = rgbmatrix.RGBMatrix(options=o)
print("constructed", flush=True)
"""
PROBE = """
from PIL import Image
try:
    m.SetImage(Image.new("RGB", (1, 1)))
except Exception as exc:
    print("SetImage raised:", exc, flush=True)
import os
os._exit(0)  # never free it
"""
START = """
import gc, sys
from appliance.display import DisplayError
from appliance.display.hzeller import RGBMatrixDisplay
from appliance.settings import DisplaySettings
cfg = DisplaySettings(driver="rgbmatrix", rows=32, cols=64, drop_priv_user="daemon",
                      drop_priv_group="daemon", {extra})
d = RGBMatrixDisplay(cfg)
try:
    d.start()
except DisplayError as exc:
    print("DisplayError:", exc, flush=True)
print("imported:", "rgbmatrix" in sys.modules, flush=True)
gc.collect()
print("clean exit", flush=True)
"""


def test_no_gpio_gives_a_null_matrix_and_no_exception() -> None:
    r = run_python(MAKE.format(rows=32, cols=64, mapping="regular") + PROBE)
    assert r.returncode == 0, r.stderr
    assert "constructed" in r.stdout  # the binding raised nothing
    assert "Canvas was destroyed or not initialized" in r.stdout  # _getCanvas saw the NULL
    assert "Must run as root to be able to access /dev/mem" in r.stderr  # the library's why


def test_touching_or_freeing_the_null_matrix_segfaults() -> None:
    base = MAKE.format(rows=32, cols=64, mapping="regular")
    for touch in ("m.width", "m.CreateFrameCanvas()", "del m"):
        r = run_python(base + touch + "\nprint('survived', flush=True)\n")
        assert r.returncode == -signal.SIGSEGV, (touch, r.returncode, r.stdout, r.stderr)
        assert "survived" not in r.stdout or touch == "del m"


def test_options_the_library_validates_are_refused_by_the_schema_first() -> None:
    # Options::Validate: odd rows and fewer than 16 columns make CreateFromOptions NULL.
    for rows, cols, word in ((31, 64, "row"), (32, 8, "col")):
        r = run_python(MAKE.format(rows=rows, cols=cols, mapping="regular") + PROBE)
        assert r.returncode == 0 and "not initialized" in r.stdout, r.stderr
        assert word in r.stderr.lower() and "Must run as root" not in r.stderr, r.stderr
    check = run_python("""
from pydantic import ValidationError
from appliance.settings import DisplaySettings
for kw in ({"rows": 31}, {"cols": 8}):
    try:
        DisplaySettings(**kw)
    except ValidationError as exc:
        print("refused:", exc.errors()[0]["loc"][0])
""")
    assert check.stdout.split() == ["refused:", "rows", "refused:", "cols"], check.stderr


def test_the_driver_stops_at_the_null_with_its_clear_error(pi4_tree: Path) -> None:
    r = run_python(START.format(extra="disable_hardware_pulsing=False"),
                   env={"LIGHTBOX_HOST_ROOT": str(pi4_tree)})
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)  # no segfault, no exit(1)
    assert "DisplayError: hzeller's library made no matrix" in r.stdout
    assert "fix: run `lightbox diagnose`" in r.stdout
    assert "imported: True" in r.stdout and "clean exit" in r.stdout
    assert "Must run as root" in r.stderr  # the library's reason, beside ours


def test_the_preflight_stops_before_the_library_is_touched(tmp_path: Path,
                                                           pi4_tree: Path) -> None:
    no_nodes = pi4_tree
    remove_device_nodes(no_nodes)
    r = run_python(START.format(extra="rp1_rio=False"), env={"LIGHTBOX_HOST_ROOT": str(no_nodes)})
    assert r.returncode == 0, r.stderr
    assert "neither /dev/mem nor /dev/gpiomem" in r.stdout and "imported: False" in r.stdout
    from tests.unit.fixtures_sys import make_tree

    sound = make_tree("pi4", tmp_path / "sound")
    load_sound_module(sound)
    r = run_python(START.format(extra="rp1_rio=False"), env={"LIGHTBOX_HOST_ROOT": str(sound)})
    assert "snd_bcm2835" in r.stdout and "imported: False" in r.stdout, r.stdout
    gpiomem = make_tree("pi4", tmp_path / "gpiomem")
    (gpiomem / "dev/mem").unlink()
    r = run_python(START.format(extra="hardware_mapping='regular'"),
                   env={"LIGHTBOX_HOST_ROOT": str(gpiomem)})
    assert "exit(1)" in r.stdout and "imported: False" in r.stdout, r.stdout
    r = run_python(START.format(extra="hardware_mapping='compute-module'"),
                   env={"LIGHTBOX_HOST_ROOT": str(make_tree("pi4", tmp_path / "cm"))})
    assert "ENABLE_WIDE_GPIO_COMPUTE_MODULE" in r.stdout and "imported: False" in r.stdout
    r = run_python(START.format(extra="drop_privileges=True").replace(
        'drop_priv_user="daemon"', 'drop_priv_user="nobody-here"'),
        env={"LIGHTBOX_HOST_ROOT": str(make_tree("pi4", tmp_path / "user"))})
    assert "nobody-here" in r.stdout and "imported: False" in r.stdout, r.stdout


def test_auto_on_this_non_pi_picks_virtual_although_rgbmatrix_imports() -> None:
    r = run_python("""
from appliance.display import auto_driver, rgbmatrix_available
print("RESULT", rgbmatrix_available(), auto_driver())
""", env={"LIGHTBOX_HOST_ROOT": ""})
    result = [ln.split()[1:] for ln in r.stdout.splitlines() if ln.startswith("RESULT")]
    assert result == [["True", "virtual"]], r.stdout + r.stderr
    assert "not a Raspberry Pi" in r.stdout + r.stderr


def test_the_engine_retries_the_null_without_crashing_and_stops_cleanly(
        pi4_tree: Path, tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys
    import time

    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({
        "device_id": "arm64",
        "display": {"driver": "rgbmatrix", "rows": 32, "cols": 64, "drop_priv_user": "daemon",
                    "drop_priv_group": "daemon", "retry_initial_s": 0.5, "retry_max_s": 1},
        "mqtt": {"host": "127.0.0.1", "port": 1}}))
    log = tmp_path / "engine.log"
    with log.open("wb") as out:
        p = subprocess.Popen([sys.executable, "-m", "appliance", "engine", "--settings",
                              str(settings)], stdout=out, stderr=subprocess.STDOUT,
                             env={**os.environ, "LIGHTBOX_HOST_ROOT": str(pi4_tree)})
        try:
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline and p.poll() is None:
                if log.read_text(errors="replace").count("made no matrix") >= 3:
                    break
                time.sleep(1)
            text = log.read_text(errors="replace")
            assert p.poll() is None, f"the engine died ({p.returncode}):\n{text[-4000:]}"
            assert text.count("made no matrix") >= 3, text[-4000:]  # retried, still alive
            p.send_signal(signal.SIGTERM)
            assert p.wait(60) == 0, log.read_text(errors="replace")[-4000:]
        finally:
            if p.poll() is None:
                p.kill()
