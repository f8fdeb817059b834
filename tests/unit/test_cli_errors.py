"""The `lightbox` commands a newcomer runs: one sentence, a documented exit code, no traceback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

LIGHTBOX = [sys.executable, "-m", "appliance"]


def lightbox(*argv: str, cwd: Path, env: dict[str, str] | None = None,
             timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the real `lightbox` command."""
    full = {**os.environ, **(env or {})}
    full.setdefault("PYTHONPATH", str(Path(__file__).resolve().parents[2]))
    return subprocess.run([*LIGHTBOX, *argv], capture_output=True, text=True, cwd=cwd,
                          env=full, timeout=timeout_s)


def test_bridge_on_a_busy_port_says_so_and_exits_75(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        settings = tmp_path / "settings.json"
        settings.write_text(json.dumps({"bridge": {"host": "127.0.0.1", "port": port}}))
        r = lightbox("bridge", "--settings", str(settings), cwd=tmp_path)
        by_flag = lightbox("bridge", "--settings", str(settings), "--port", str(port),
                           cwd=tmp_path)
    assert "Traceback" not in r.stderr
    assert r.returncode == 75
    assert f"port {port}" in r.stderr and "bridge.port" in r.stderr
    assert by_flag.returncode == 75 and "--port" in by_flag.stderr


def test_bridge_on_an_address_not_of_this_machine_exits_78(tmp_path: Path) -> None:
    settings = _write(tmp_path / "settings.json", {})
    r = lightbox("bridge", "--settings", str(settings), "--host", "192.0.2.1",
                 "--port", "5999", cwd=tmp_path)
    assert "Traceback" not in r.stderr
    assert r.returncode == 78 and "--host" in r.stderr and "192.0.2.1:5999" in r.stderr


def _write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_check_config_takes_settings_env_and_default(tmp_path: Path) -> None:
    good = _write(tmp_path / "good.json", {"device_id": "kitchen"})
    bad = _write(tmp_path / "bad.json", {"display": {"rows": 3}})
    positional = lightbox("check-config", str(bad), cwd=tmp_path)
    assert positional.returncode == 78 and "display.rows" in positional.stdout
    flag = lightbox("check-config", "--settings", str(bad), cwd=tmp_path)
    assert flag.returncode == 78 and "display.rows" in flag.stdout
    env = lightbox("check-config", cwd=tmp_path, env={"LIGHTBOX_SETTINGS": str(bad)})
    assert env.returncode == 78 and "display.rows" in env.stdout
    _write(tmp_path / "settings.json", {"device_id": "hall"})
    plain = {k: v for k, v in os.environ.items() if k != "LIGHTBOX_SETTINGS"}
    r = subprocess.run([*LIGHTBOX, "check-config"], capture_output=True, text=True,
                       cwd=tmp_path, env={**plain, "PYTHONPATH": os.environ.get(
                           "PYTHONPATH", str(Path(__file__).resolve().parents[2]))},
                       timeout=120)
    assert r.returncode == 0 and "settings.json: valid" in r.stdout
    ok = lightbox("check-config", "--settings", str(good), cwd=tmp_path)
    assert ok.returncode == 0
    both = lightbox("check-config", str(good), "--settings", str(bad), cwd=tmp_path)
    assert both.returncode == 2 and "not both" in both.stdout


def test_verify_without_an_install_says_so_in_one_line(tmp_path: Path) -> None:
    r = lightbox("verify", "--settings", str(tmp_path / "settings.json"), cwd=tmp_path)
    assert "Traceback" not in r.stderr and r.returncode == 1
    assert r.stdout.startswith("no install found here:")
    assert "FileNotFoundError" not in r.stdout


def test_verify_names_missing_secret_files_without_exception_names(tmp_path: Path) -> None:
    settings = _write(tmp_path / "settings.json", {
        "mqtt": {"port": 9, "username": "kitchen", "password_file": str(tmp_path / "nope")},
        "bridge": {"port": 9}, "device_id": "kitchen"})
    r = lightbox("verify", "--settings", str(settings), "--no-systemd", "--timeout", "1",
                 cwd=tmp_path)
    assert "FileNotFoundError" not in r.stdout and "does not exist" in r.stdout


def test_verify_finds_the_monitor_password_dev_writes(tmp_path: Path) -> None:
    broker = tmp_path / "broker"
    broker.mkdir()
    (broker / "kitchen.password").write_text("x\n")
    (broker / "lightbox-monitor.password").write_text("y\n")
    settings = _write(tmp_path / "settings.json", {
        "mqtt": {"port": 9, "username": "kitchen",
                 "password_file": str(broker / "kitchen.password")},
        "bridge": {"port": 9}, "device_id": "kitchen"})
    r = lightbox("verify", "--settings", str(settings), "--no-systemd", "--timeout", "1",
                 cwd=tmp_path)
    line = next(ln for ln in r.stdout.splitlines() if "secret monitor password" in ln)
    assert "lightbox-monitor.password" in line


def test_check_config_warns_per_missing_secret_file_and_stays_valid(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("t\n")
    settings = _write(tmp_path / "s.json", {
        "mqtt": {"username": "kitchen", "password_file": str(tmp_path / "gone")},
        "bridge": {"auth_token_file": str(token), "mqtt_password_file": str(tmp_path)}})
    r = lightbox("check-config", str(settings), cwd=tmp_path)
    assert r.returncode == 0 and "valid" in r.stdout
    assert f"mqtt.password_file: warning: {tmp_path / 'gone'} does not exist" in r.stdout
    assert "bridge.mqtt_password_file: warning: cannot read" in r.stdout
    assert "bridge.auth_token_file" not in r.stdout


def test_blank_on_the_virtual_panel_says_nothing_is_visible(tmp_path: Path) -> None:
    settings = _write(tmp_path / "s.json", {"display": {"driver": "virtual"}})
    r = lightbox("blank", "--settings", str(settings), cwd=tmp_path)
    assert r.returncode == 0 and "nothing is visible" in r.stdout
    assert "virtual panel darkened" in r.stdout  # ExecStopPost's journal line (nspawn test)


def test_decommission_with_a_missing_settings_file_exits_78(tmp_path: Path) -> None:
    r = lightbox("decommission", "--settings", str(tmp_path / "none.json"), cwd=tmp_path)
    assert "Traceback" not in r.stderr and r.returncode == 78
    assert "does not exist" in r.stderr


def test_bridge_with_a_missing_settings_file_says_so_in_one_line_and_exits_78(
        tmp_path: Path) -> None:
    missing = tmp_path / "typo.json"
    r = lightbox("bridge", "--settings", str(missing), cwd=tmp_path)
    assert "Traceback" not in r.stderr and r.returncode == 78
    assert r.stderr.strip().splitlines() == [
        f"lightbox bridge: the settings file {missing} does not exist; name the right one "
        "with --settings PATH (or $LIGHTBOX_SETTINGS)"]
    from_env = lightbox("bridge", cwd=tmp_path, env={"LIGHTBOX_SETTINGS": str(missing)})
    assert from_env.returncode == 78 and str(missing) in from_env.stderr


def test_bridge_with_a_missing_tls_file_exits_78(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = _write(tmp_path / "s.json", {
        "mqtt": {"port": port, "tls": {"ca_file": str(tmp_path / "ca.pem")}},
        "bridge": {"host": "127.0.0.1", "port": port}})
    r = lightbox("bridge", "--settings", str(settings), cwd=tmp_path)
    assert "Traceback" not in r.stderr and r.returncode == 78
    assert "mqtt.tls" in r.stderr


def test_dev_with_a_work_folder_it_cannot_create_says_so(tmp_path: Path) -> None:
    # A path below a plain file cannot be a folder, even for root (chmod would not stop root).
    (tmp_path / "plain").write_text("")
    r = lightbox("dev", "--workdir", str(tmp_path / "plain" / "dev"), cwd=tmp_path)
    assert "Traceback" not in r.stderr and r.returncode == 1
    assert "cannot use" in r.stderr and "--workdir" in r.stderr


def test_engine_with_a_missing_tls_file_names_it_and_exits_78(tmp_path: Path) -> None:
    settings = _write(tmp_path / "s.json", {
        "display": {"driver": "virtual"},
        "mqtt": {"port": 1, "tls": {"ca_file": str(tmp_path / "ca.pem")}}})
    r = lightbox("engine", "--settings", str(settings), cwd=tmp_path)
    out = r.stdout + r.stderr
    assert "Traceback" not in out and r.returncode == 78
    assert "mqtt.tls.ca_file: cannot read" in out
