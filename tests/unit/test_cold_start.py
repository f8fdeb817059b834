"""The engine's cold start loads only what its first frame needs.

A fresh interpreter runs `lightbox engine` (virtual display, plasma, a broker that is
not there) and lists ``sys.modules`` the moment the first frame has been drawn. What
serves later work (pictures, sun times, realtime receivers, the settings form,
discovery, the bridge) must not be among them: each costs CPU at every start, which
on a Pi 4 is the time the panel stays dark. How much CPU the start takes is measured
by `lightbox bench coldstart`, not asserted here.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Modules (and their submodules) a first frame of plasma does not need, and why.
DEFERRED = {
    "PIL": "Pillow: uploaded pictures and notification icons, decoded when shown",
    "astral": "sun times: only a schedule with a sunrise or sunset window",
    "appliance.content.live.receiver": "realtime receivers: only when realtime is on",
    "appliance.content.live.artnet": "Art-Net parser: only when realtime is on",
    "appliance.content.live.e131": "E1.31 parser: only when realtime is on",
    "appliance.content.live.ddp": "DDP parser: only when realtime is on",
    "appliance.settings.form": "the web form's schema: the bridge's",
    "appliance.settings.doc": "docs/settings.md's text: the bridge's and the docs'",
    "appliance.discovery": "Home Assistant discovery: sent after the broker connects",
    "appliance.ops": "operator tools",
    "bridge": "the web process",
    "flask": "the web process",
    "paho": "MQTT: the link starts once the first frame is on the panel",
    "psutil": "process figures: telemetry reads them after the first frame",
}

#: Run in the child: when the first frame is on the panel (the moment the engine sets
#: ``first_frame_done``, before any thread waiting for it runs), write the loaded modules
#: and stop.
CHILD = """
import json, os, sys
from appliance.cli import main
from appliance.render import engine

out, settings = sys.argv[1], sys.argv[2]
init = engine.Engine.__init__

def dump():
    with open(out, "w") as f:
        json.dump({"modules": sorted(sys.modules),
                   "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS")}, f)
    os._exit(0)

def watched_init(self, *args, **kwargs):
    init(self, *args, **kwargs)
    self.first_frame_done.set = dump

engine.Engine.__init__ = watched_init
main(["engine", "--settings", settings])
"""


def closed_port() -> int:
    """A local TCP port nothing listens on (the engine's broker connect just fails)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def first_frame_modules(tmp_path: Path) -> dict[str, object]:
    """Start the engine in a fresh interpreter; return what it had loaded at its first frame."""
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({
        "device_id": "coldstart",
        "display": {"driver": "virtual", "rows": 32, "cols": 64, "drop_privileges": False},
        "animation": {"default": "plasma", "boot": "default"},
        "mqtt": {"host": "127.0.0.1", "port": closed_port()},
        "logging": {"format": "json"},
    }))
    out = tmp_path / "first-frame.json"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("LIGHTBOX_") and k not in ("NOTIFY_SOCKET", "OPENBLAS_NUM_THREADS")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env["STATE_DIRECTORY"] = str(tmp_path / "state")
    done = subprocess.run([sys.executable, "-c", CHILD, str(out), str(settings)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert out.exists(), f"no first frame (exit {done.returncode}):\n{done.stdout[-3000:]}" \
                         f"\n{done.stderr[-3000:]}"
    result: dict[str, object] = json.loads(out.read_text())
    return result


def test_the_first_frame_loads_nothing_that_serves_later_work(tmp_path: Path) -> None:
    got = first_frame_modules(tmp_path)
    modules = set(got["modules"])  # type: ignore[call-overload]
    # The check ran on the real path: the render loop and the first frame's animation.
    assert {"appliance.service", "appliance.render.engine", "animations.plasma"} <= modules
    loaded = {name: why for name, why in DEFERRED.items()
              if any(m == name or m.startswith(name + ".") for m in modules)}
    assert loaded == {}, "loaded before the first frame: " + "; ".join(
        f"{name} ({why})" for name, why in loaded.items())
    # numpy's OpenBLAS would start a spinning worker per core: one thread, no spinning.
    assert got["openblas_threads"] == "1"
