"""`lightbox diagnose` against fake host trees and fake commands."""

from __future__ import annotations

import argparse
import json
import socket
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from appliance.ops import diagnose
from appliance.ops.checks import Machine
from appliance.ops.diagnose import ENGINE_UNIT, Diagnoser, boot_config_audio
from appliance.settings import MQTTSettings
from tests.unit.fixtures_sys import load_sound_module, make_tree, overheat, remove_device_nodes


def commands(throttled: str = "throttled=0x0", active: str = "active",
             enabled: str = "enabled") -> Callable[[list[str]], str | None]:
    """A fake runner for vcgencmd and systemctl."""
    def run(argv: list[str]) -> str | None:
        if argv[:2] == ["vcgencmd", "get_throttled"]:
            return throttled + "\n"
        if argv[:2] == ["systemctl", "is-active"] and argv[2] == ENGINE_UNIT:
            return active + "\n"
        if argv[:2] == ["systemctl", "is-enabled"] and argv[2] == ENGINE_UNIT:
            return enabled + "\n"
        return None
    return run


def no_commands(argv: list[str]) -> str | None:
    return None


def fake_rgbmatrix(name: str) -> ModuleType:
    if name != "rgbmatrix":
        raise ImportError(name)
    mod = ModuleType("rgbmatrix")
    mod.__version__ = "0.0.1"  # type: ignore[attr-defined]
    mod.__file__ = "/usr/local/lib/python3.11/dist-packages/rgbmatrix/__init__.py"
    return mod


def no_rgbmatrix(name: str) -> ModuleType:
    raise ImportError(f"No module named {name!r}")


def broker_ok(cfg: MQTTSettings, timeout_s: float) -> tuple[bool, str]:
    return True, f"connected to {cfg.host}:{cfg.port} as {cfg.username}"


def settings_file(tmp_path: Path, data: dict[str, Any] | None = None) -> Path:
    p = tmp_path / "settings.json"
    p.write_text(json.dumps(data if data is not None else {
        "device_id": "kitchen",
        "display": {"driver": "rgbmatrix", "rows": 32, "cols": 64, "gpio_slowdown": 4},
        "mqtt": {"username": "kitchen"},
    }))
    return p


def diag(root: Path, tmp_path: Path, *, euid: int = 0, run: Any = None,
         loader: Any = fake_rgbmatrix, probe: Any = broker_ok,
         data: dict[str, Any] | None = None) -> Diagnoser:
    d = Diagnoser(machine=Machine(root=root, euid=lambda: euid),
                  settings_path=settings_file(tmp_path, data), run=run or commands(),
                  loader=loader, broker_probe=probe)
    d.run_all()
    return d


def levels(d: Diagnoser) -> dict[str, str]:
    """name -> worst level seen for that name."""
    rank = {"SKIP": 0, "PASS": 1, "WARN": 2, "FAIL": 3}
    out: dict[str, str] = {}
    for c in d.checks:
        if rank[c.level] >= rank.get(out.get(c.name, "SKIP"), 0):
            out[c.name] = c.level
    return out


def test_healthy_pi4_passes_everything(tmp_path: Path) -> None:
    d = diag(make_tree("pi4", tmp_path), tmp_path)
    assert d.ok()
    bad = [c.line() for c in d.checks if c.level != "PASS"]
    assert bad == []
    names = set(levels(d))
    assert {"settings", "board", "rgbmatrix", "device nodes", "privileges", "snd_bcm2835",
            "boot config", "isolcpus", "memory cgroup", "power", "temperature",
            "display options", "broker", "service"} <= names
    text = d.text()
    assert text.startswith("LightBox diagnose on Raspberry Pi 4 Model B Rev 1.4")
    assert "0 FAIL" in text and "rgbmatrix: importable (version 0.0.1)" in text


def test_every_non_pass_line_has_a_one_sentence_fix(tmp_path: Path) -> None:
    root = make_tree("pi4", tmp_path)
    load_sound_module(root)
    remove_device_nodes(root)
    overheat(root)
    (root / "proc/cmdline").write_text("console=tty1 cgroup_disable=memory\n")
    (root / "sys/fs/cgroup/cgroup.controllers").write_text("cpuset cpu io pids\n")
    d = diag(root, tmp_path, run=commands(throttled="throttled=0x50005", active="failed"),
             loader=no_rgbmatrix,
             probe=lambda c, t: (False, "127.0.0.1:1883 refused the connection: Not authorized"),
             data={"display": {"driver": "rgbmatrix", "gpio_slowdown": 1,
                               "hardware_mapping": "compute-module"}})
    assert not d.ok()
    for c in d.checks:
        if c.level in ("WARN", "FAIL"):
            assert c.fix.endswith(".") and c.fix.count(". ") == 0, c.line()
    lv = levels(d)
    assert lv["snd_bcm2835"] == "FAIL" and lv["boot config"] == "WARN"
    assert lv["device nodes"] == "FAIL" and lv["rgbmatrix"] == "FAIL"
    assert lv["isolcpus"] == "WARN" and lv["memory cgroup"] == "WARN"
    assert lv["power"] == "FAIL" and lv["temperature"] == "FAIL"
    assert lv["display.hardware_mapping"] == "FAIL" and lv["display.gpio_slowdown"] == "WARN"
    assert lv["broker"] == "FAIL" and lv["service"] == "FAIL"
    broker = next(c for c in d.checks if c.name == "broker")
    assert "mqtt.username" in broker.fix


def test_throttled_pi(tmp_path: Path) -> None:
    root = make_tree("pi4", tmp_path)
    now = diag(root, tmp_path, run=commands(throttled="throttled=0x50005"))
    power = next(c for c in now.checks if c.name == "power")
    assert power.level == "FAIL" and "under-voltage NOW" in power.message
    assert "supply" in power.fix
    past = diag(root, tmp_path, run=commands(throttled="throttled=0x50000"))
    power = next(c for c in past.checks if c.name == "power")
    assert power.level == "WARN" and "under-voltage has occurred" in power.message
    assert past.ok()


def test_throttling_from_the_hwmon_sensor_without_vcgencmd(tmp_path: Path) -> None:
    root = make_tree("pi4", tmp_path)
    hw = root / "sys/class/hwmon/hwmon1"
    hw.mkdir(parents=True)
    (hw / "name").write_text("rpi_volt\n")
    (hw / "in0_lcrit_alarm").write_text("1\n")
    d = diag(root, tmp_path, run=no_commands)
    assert levels(d)["power"] == "FAIL"


def test_warm_pi_warns(tmp_path: Path) -> None:
    root = make_tree("pi4", tmp_path)
    overheat(root, 77000)
    d = diag(root, tmp_path)
    assert levels(d)["temperature"] == "WARN" and d.ok()


def test_missing_device_nodes(tmp_path: Path) -> None:
    root = make_tree("pi4", tmp_path)
    remove_device_nodes(root)
    d = diag(root, tmp_path)
    nodes = next(c for c in d.checks if c.name == "device nodes")
    assert nodes.level == "FAIL" and "neither /dev/mem nor /dev/gpiomem" in nodes.message
    assert not d.ok()


def test_not_root_with_gpiomem_only(tmp_path: Path) -> None:
    root = make_tree("pi4", tmp_path)
    (root / "dev/mem").unlink()
    # adafruit-hat's output-enable is GPIO 4, not a PWM pin: /dev/gpiomem is enough.
    d = diag(root, tmp_path, euid=1000, data={"display": {"hardware_mapping": "adafruit-hat"}})
    lv = levels(d)
    assert lv["device nodes"] == "WARN" and lv["privileges"] == "WARN"
    assert d.ok()
    # regular pulses GPIO 18 with the PWM hardware: the library would exit(1) without /dev/mem.
    d = diag(root, tmp_path, euid=1000)
    nodes = next(c for c in d.checks if c.name == "device nodes")
    assert nodes.level == "FAIL" and "exit(1)" in nodes.message and not d.ok()


def test_sound_module_loaded(tmp_path: Path) -> None:
    root = make_tree("pi4", tmp_path)
    load_sound_module(root)
    d = diag(root, tmp_path)
    snd = next(c for c in d.checks if c.name == "snd_bcm2835")
    assert snd.level == "FAIL" and "dtparam=audio=off" in snd.fix
    boot = next(c for c in d.checks if c.name == "boot config")
    assert boot.level == "WARN" and "dtparam=audio=on" in boot.message
    assert not d.ok()


def test_non_pi_says_so_and_checks_what_applies(tmp_path: Path) -> None:
    root = make_tree("non_pi", tmp_path)
    d = diag(root, tmp_path, loader=no_rgbmatrix, run=no_commands,
             data={"display": {"driver": "virtual"}})
    assert d.ok()
    lv = levels(d)
    assert lv["board"] == "PASS"
    for name in ("rgbmatrix", "device nodes", "snd_bcm2835", "isolcpus", "power", "service"):
        assert lv[name] == "SKIP", name
    # What applies is still checked.
    assert lv["settings"] == "PASS" and lv["memory cgroup"] == "PASS"
    assert lv["temperature"] == "PASS" and lv["broker"] == "PASS"
    assert "not a Raspberry Pi" in d.text().splitlines()[0]


def test_non_pi_with_the_hardware_driver_fails(tmp_path: Path) -> None:
    d = diag(make_tree("non_pi", tmp_path), tmp_path, loader=no_rgbmatrix, run=no_commands)
    assert levels(d)["board"] == "FAIL" and not d.ok()


def test_invalid_settings_fail_and_defaults_are_used(tmp_path: Path) -> None:
    d = diag(make_tree("pi4", tmp_path), tmp_path, data={"display": {"colz": 64}})
    s = next(c for c in d.checks if c.name == "settings")
    assert s.level == "FAIL" and "display.colz: unknown key" in s.message
    assert "lightbox check-config" in s.fix


def test_missing_settings_file_fails(tmp_path: Path) -> None:
    d = Diagnoser(machine=Machine(root=make_tree("pi4", tmp_path), euid=lambda: 0),
                  settings_path=tmp_path / "nope.json", run=commands(), loader=fake_rgbmatrix,
                  broker_probe=broker_ok)
    d.run_all()
    assert levels(d)["settings"] == "FAIL"


def test_service_states(tmp_path: Path) -> None:
    root = make_tree("pi4", tmp_path)
    for active, enabled, want in [("active", "enabled", "PASS"), ("failed", "enabled", "FAIL"),
                                  ("inactive", "disabled", "WARN"),
                                  ("inactive", "not-found", "WARN")]:
        d = diag(root, tmp_path, run=commands(active=active, enabled=enabled))
        assert levels(d)["service"] == want, (active, enabled)


def test_auto_driver_on_a_pi_without_the_library_warns(tmp_path: Path) -> None:
    d = diag(make_tree("pi4", tmp_path), tmp_path, loader=no_rgbmatrix,
             data={"display": {"driver": "auto"}})
    lib = next(c for c in d.checks if c.name == "rgbmatrix")
    assert lib.level == "WARN" and "LEDs stay dark" in lib.message


@pytest.mark.parametrize(("text", "want"), [
    ("dtparam=audio=off\n", "off"),
    ("dtparam=audio=on\n", "on"),
    ("dtparam=i2c_arm=on,audio=off\n", "off"),
    ("dtparam=audio=off\n[pi3]\ndtparam=audio=on\n", "off"),
    ("dtparam=audio=off\n[all]\ndtparam=audio=on  # again\n", "on"),
    ("# dtparam=audio=on\n", None),
])
def test_boot_config_audio(text: str, want: str | None) -> None:
    assert boot_config_audio(text) == want


def test_real_broker_probe_reports_an_unreachable_port() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connection refused
        ok, message = diagnose.default_broker_probe(MQTTSettings(port=port), 2.0)
    assert not ok and "cannot reach 127.0.0.1" in message


def test_real_broker_probe_reports_a_missing_password_file(tmp_path: Path) -> None:
    ok, message = diagnose.default_broker_probe(
        MQTTSettings(username="u", password_file=tmp_path / "missing"), 1.0)
    assert not ok and "does not exist" in message


def test_cli_json_and_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_tree("non_pi", tmp_path)
    monkeypatch.setattr(diagnose, "default_broker_probe", broker_ok)
    monkeypatch.setattr(Diagnoser, "__init__", _patched_init(Diagnoser.__init__))
    path = settings_file(tmp_path, {"display": {"driver": "virtual"}})
    args = argparse.Namespace(settings=str(path), json=True, root=str(root), broker_timeout=1.0)
    assert diagnose.run(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True and report["host"]["raspberry_pi"] is False
    assert report["summary"]["FAIL"] == 0
    assert all(set(c) == {"level", "name", "message", "fix"} for c in report["checks"])
    args = argparse.Namespace(settings=str(tmp_path / "nope.json"), json=False, root=str(root),
                              broker_timeout=1.0)
    assert diagnose.run(args) == 1
    assert "FAIL  settings" in capsys.readouterr().out


def _patched_init(init: Any) -> Any:
    def wrapped(self: Diagnoser, *a: Any, **kw: Any) -> None:
        kw.setdefault("broker_probe", broker_ok)
        kw.setdefault("run", no_commands)
        kw.setdefault("loader", no_rgbmatrix)
        init(self, *a, **kw)
    return wrapped


def test_cli_parser_knows_the_subcommand() -> None:
    from appliance.cli import build_parser

    args = build_parser("diagnose").parse_args(["diagnose", "--json", "--settings", "x.json"])
    assert args.json is True and args.settings == "x.json"


def test_the_old_shared_engine_login_is_flagged(tmp_path: Path) -> None:
    """A box still logging in as `lightbox-engine` (or any user but its id) gets a WARN."""
    d = diag(make_tree("pi4", tmp_path), tmp_path,
             data={"device_id": "kitchen", "display": {"driver": "rgbmatrix", "gpio_slowdown": 4},
                   "mqtt": {"username": "lightbox-engine"}})
    warn = [c for c in d.checks if c.name == "broker user"]
    assert [c.level for c in warn] == ["WARN"], d.text()
    assert "'lightbox-engine'" in warn[0].message and "'kitchen'" in warn[0].fix
    assert d.ok()  # a warning: a custom broker may have its own ACL
