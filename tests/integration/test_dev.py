"""`lightbox dev`: one command brings up broker + engine (+ bridge); Ctrl-C leaves nothing."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil
import pytest

from appliance.ops.broker import LocalBroker, free_port, login_works, port_open
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


def start_dev(tmp_path: Path, name: str, *extra: str) -> tuple[subprocess.Popen[bytes], Path]:
    """Start `lightbox dev` with ``extra`` arguments; return it and its output file."""
    out = tmp_path / f"{name}.out"
    proc = subprocess.Popen([sys.executable, "-m", "appliance", "dev", *extra],
                            stdout=out.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    return proc, out


def banner_of(proc: subprocess.Popen[bytes], out: Path) -> str:
    """Wait for the banner (failing early with the output when dev exits)."""
    def ready() -> str | None:
        text = out.read_text()
        assert proc.poll() is None, f"lightbox dev exited with {proc.returncode}:\n{text}"
        return text if "Ctrl-C stops everything" in text else None
    return str(wait_until(ready, timeout_s=60, message="dev banner"))


def http_json(url: str, method: str = "GET", body: dict[str, Any] | None = None) -> Any:
    """Send one HTTP request to the bridge; return the decoded JSON answer."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def running_rows(web: str) -> Any:
    """Return display.rows of the running settings, None while the bridge has none."""
    try:
        return http_json(web + "api/config")["settings"]["display"]["rows"]
    except (OSError, KeyError, TypeError, ValueError):
        return None


def stop_dev(proc: subprocess.Popen[bytes]) -> None:
    """Ctrl-C, and expect a clean exit."""
    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) == 0


def test_dev_workdir_is_reusable_and_keeps_ui_changes(tmp_path: Path) -> None:
    """Start, change a restart-needing setting over HTTP, stop, start again on another
    broker port with the same --workdir: it comes up and the change is still there."""
    need("mosquitto", Path("/usr/sbin/mosquitto").exists(), "apt-get install mosquitto")
    seed = tmp_path / "settings.json"
    seed.write_text(json.dumps({"device_id": "devbox", "display": {"driver": "virtual"}}))
    work = tmp_path / "work"
    common = ("--settings", str(seed), "--workdir", str(work), "--web-port", str(free_port()))
    proc, out = start_dev(tmp_path, "first", *common, "--port", str(free_port()))
    try:
        text = banner_of(proc, out)
        assert f"using {work / 'settings.json'} (changes made in the UI are kept here)" in text
        assert f"seeded from {seed}" in text
        web = re.search(r"web UI:\s+(http://127\.0\.0\.1:\d+/)", text).group(1)  # type: ignore[union-attr]
        first_port = int(re.search(r"broker:\s+127\.0\.0\.1:(\d+)", text).group(1))  # type: ignore[union-attr]
        pw = (work / "broker" / "homeassistant.password").read_text()
        assert wait_until(lambda: running_rows(web), timeout_s=30, message="config") == 32
        http_json(web + "api/config", "PATCH", {"display": {"rows": 64}})
        wait_until(lambda: json.loads((work / "settings.json").read_text())
                   ["display"]["rows"] == 64, timeout_s=20, message="settings saved")
        stop_dev(proc)
        second = free_port()
        assert second != first_port
        proc, out = start_dev(tmp_path, "second", *common, "--port", str(second))
        text = banner_of(proc, out)
        assert f"broker:    127.0.0.1:{second}" in text
        assert "kept from the last start; --reset re-seeds it from" in text
        assert wait_until(lambda: running_rows(web), timeout_s=30, message="config") == 64
        assert (work / "broker" / "homeassistant.password").read_text() == pw
        stop_dev(proc)
        proc, out = start_dev(tmp_path, "third", *common, "--reset")
        text = banner_of(proc, out)
        assert f"seeded from {seed}" in text
        assert wait_until(lambda: running_rows(web), timeout_s=30, message="config") == 32
        stop_dev(proc)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_broker_on_a_reused_folder_takes_the_new_port_and_keeps_passwords(tmp_path: Path) -> None:
    """The mosquitto.conf of an earlier run (old port) is never reused."""
    need("mosquitto", Path("/usr/sbin/mosquitto").exists(), "apt-get install mosquitto")
    first = LocalBroker(tmp_path, devices=["devbox"])
    first.start()
    try:
        pw = dict(first.passwords)
    finally:
        first.stop()
    second = LocalBroker(tmp_path, port=free_port(), devices=["devbox"])
    assert second.port != first.port
    second.start()
    try:
        assert second.passwords == pw
        assert login_works(second.host, second.port, "devbox", pw["devbox"])
    finally:
        second.stop()


def test_dev_lan_binds_all_and_a_phone_by_ip_is_answered(tmp_path: Path) -> None:
    """--lan: the bridge listens on 0.0.0.0, the banner warns that auth is off, a
    request naming the box by an IP literal passes the Host allow-list; a second dev
    on the same work folder is refused while the first runs."""
    need("mosquitto", Path("/usr/sbin/mosquitto").exists(), "apt-get install mosquitto")
    seed = tmp_path / "settings.json"
    seed.write_text(json.dumps({"device_id": "devbox", "display": {"driver": "virtual"}}))
    web_port = free_port()
    args = ("--settings", str(seed), "--workdir", str(tmp_path / "work"))
    proc, out = start_dev(tmp_path, "lan", *args, "--web-port", str(web_port), "--lan")
    try:
        text = banner_of(proc, out)
        assert "auth is off in dev" in text
        live = json.loads((tmp_path / "work" / "settings.json").read_text())
        assert live["bridge"]["host"] == "0.0.0.0"
        bridge = next(c for c in psutil.Process(proc.pid).children()
                      if "bridge" in c.cmdline())
        wait_until(lambda: any(c.laddr.port == web_port and c.laddr.ip == "0.0.0.0"
                               for c in bridge.net_connections("tcp")
                               if c.status == psutil.CONN_LISTEN),
                   timeout_s=30, message="bridge listening on 0.0.0.0")
        req = urllib.request.Request(f"http://127.0.0.1:{web_port}/api/info",
                                     headers={"Host": f"192.168.1.20:{web_port}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 200
        again = subprocess.run([sys.executable, "-m", "appliance", "dev", *args],
                               capture_output=True, text=True, timeout=60)
        assert again.returncode == 1
        assert "is in use by another lightbox dev" in again.stderr
        stop_dev(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
