"""`lightbox dev`: one command brings up broker + engine (+ bridge); Ctrl-C leaves nothing."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from appliance.broker import port_open
from tests.conftest import need
from tests.support import wait_until

pytestmark = pytest.mark.integration


def test_dev_runs_everything_and_ctrl_c_stops_it_all(tmp_path: Path) -> None:
    need("mosquitto", Path("/usr/sbin/mosquitto").exists(), "apt-get install mosquitto")
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"device_id": "devbox", "display": {"driver": "virtual"}}))
    out = tmp_path / "dev.out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "appliance", "dev", "--settings", str(settings),
         "--workdir", str(tmp_path / "work")],
        stdout=out.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        text = wait_until(lambda: "Ctrl-C stops everything" in out.read_text()
                          and out.read_text(), timeout_s=60, message="dev banner")
        port = int(re.search(r"broker:\s+127\.0\.0\.1:(\d+)", text).group(1))  # type: ignore[union-attr]
        http = int(re.search(r"web UI:\s+http://127\.0\.0\.1:(\d+)/", text).group(1))  # type: ignore[union-attr]
        pw = (tmp_path / "work" / "broker" / "homeassistant.password").read_text().strip()
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= 2  # mosquitto and the engine (and the bridge once present)
        # The printed example works: switch the animation and see the retained state.
        sub = ["mosquitto_sub", "-p", str(port), "-u", "homeassistant", "-P", pw,
               "-t", "lightbox/devbox/state", "-C", "1", "-W", "10"]

        def effect() -> str | None:
            r = subprocess.run(sub, capture_output=True, text=True, timeout=15)
            return json.loads(r.stdout)["effect"] if r.stdout.strip() else None

        assert wait_until(effect, timeout_s=30, message="engine state") == "plasma"
        subprocess.run(["mosquitto_pub", "-p", str(port), "-u", "homeassistant", "-P", pw,
                        "-t", "lightbox/devbox/cmd/animation", "-m", "breathe", "-q", "1"],
                       check=True, timeout=10)
        wait_until(lambda: effect() == "breathe", timeout_s=20, message="breathe state")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
        time.sleep(0.5)
        assert [c.pid for c in children if c.is_running() and
                c.status() != psutil.STATUS_ZOMBIE] == []
        assert not port_open(port)
        assert not port_open(http)
        assert "lightbox dev: stopped" in out.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
