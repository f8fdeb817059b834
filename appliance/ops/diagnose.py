"""`lightbox diagnose`: check the machine for the LED panel and the service.

Every check prints PASS, WARN or FAIL with the fix in one sentence (SKIP where
it does not apply, e.g. on a laptop). Reads the host only through an
injectable root (``Machine``) and command runner, so tests use fake trees.
Imports ``rgbmatrix`` at most to report its version (never initialises it)
and reaches the broker through ``appliance.mqtt.probe``, never paho.
Exit 0 when nothing FAILs.
"""

from __future__ import annotations

import argparse
import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from appliance.display.hzeller.preflight import (
    boot_config_audio,
    boot_config_checks,
    device_checks,
    module_checks,
    option_checks,
)
from appliance.display.hzeller.rp1 import describe, is_pi5, rp1_option_checks
from appliance.ops.checks import (
    FAIL,
    PASS,
    SKIP,
    WARN,
    Check,
    Level,
    Machine,
    Runner,
    count,
)
from appliance.ops.hostchecks import cmdline_checks, power_check, temperature_check
from appliance.settings import MQTTSettings, Settings, SettingsError, load
from appliance.system import SystemProbe, command_output

__all__ = ["ENGINE_UNIT", "Diagnoser", "boot_config_audio", "run", "run_command"]

ENGINE_UNIT = "lightbox-engine.service"
BrokerProbe = Callable[[MQTTSettings, float], tuple[bool, str]]


def run_command(argv: list[str]) -> str | None:
    """Run a command and return its stdout, or None when it is not installed or hangs."""
    return command_output(argv, timeout_s=5.0)


def default_broker_probe(cfg: MQTTSettings, timeout_s: float) -> tuple[bool, str]:
    """Probe the broker through the engine's MQTT module (the only one importing paho)."""
    from appliance.mqtt.probe import probe_broker

    return probe_broker(cfg, timeout_s)


@dataclass
class Diagnoser:
    """Runs every check against one machine and one settings file."""

    machine: Machine
    settings_path: Path
    run: Runner = run_command
    loader: Callable[[str], ModuleType] = importlib.import_module
    broker_probe: BrokerProbe = default_broker_probe
    broker_timeout_s: float = 5.0
    checks: list[Check] = field(default_factory=list)
    settings: Settings | None = None

    def add(self, level: Level, name: str, message: str, fix: str = "") -> None:
        """Record one finding."""
        self.checks.append(Check(level, name, message, fix))

    # ---------------------------------------------------------------- the checks
    def run_all(self) -> list[Check]:
        """Run every check in the order a person fixes things."""
        self.checks = []
        settings = self.check_settings()
        pi = self.machine.is_pi()
        self.check_board(settings, pi)
        self.check_library(settings, pi)
        self.check_devices(settings, pi)
        self.check_sound(pi)
        self.check_cmdline(pi)
        self.check_power(pi)
        self.check_temperature(settings, pi)
        self.check_display_options(settings, pi)
        self.check_broker(settings)
        self.check_service()
        return self.checks

    def check_settings(self) -> Settings:
        """Settings valid (the rest of the checks use the defaults when they are not)."""
        path = self.settings_path
        try:
            settings = load(path)
        except SettingsError as exc:
            lines = exc.lines()
            more = f" (+{len(lines) - 3} more)" if len(lines) > 3 else ""
            self.add(FAIL, "settings", f"{path}: " + "; ".join(lines[:3]) + more
                     + "; the checks below use the defaults",
                     f"run `lightbox check-config {path}` and fix each line it prints "
                     "(`{}` is a valid file).")
            settings = Settings()
        else:
            self.add(PASS, "settings", f"{path} is valid (device_id {settings.device_id})")
        self.settings = settings
        return settings

    def check_board(self, settings: Settings, pi: bool) -> None:
        """Board model: a Pi 4, a Pi 5 (driven through the RP1), an older Pi or none."""
        model = self.machine.model()
        driver = settings.display.driver
        if pi and self.machine.is_pi4():
            self.add(PASS, "board", model or "Raspberry Pi 4")
        elif is_pi5(model):
            self.add(PASS, "board", f"{model}: hzeller's library drives it through "
                     f"{describe(settings.display)}")
        elif pi:
            self.add(WARN, "board", f"{model}: LightBox is tuned for a Pi 4; it works, slower",
                     "use gpio_slowdown 1-2 on a Pi 3 and expect a lower frame rate.")
        else:
            what = f"not a Raspberry Pi ({model or 'no device-tree model'}): hardware checks " \
                "are skipped"
            if driver == "rgbmatrix":
                self.add(FAIL, "board", what + ", yet display.driver is rgbmatrix",
                         "set display.driver to virtual or emulator on this machine.")
            elif driver == "auto":
                self.add(WARN, "board", what + "; display.driver auto will use the virtual panel",
                         "nothing to do on a laptop; run diagnose on the Pi for the panel.")
            else:
                self.add(PASS, "board", what + f"; display.driver is {driver}")

    def check_library(self, settings: Settings, pi: bool) -> None:
        """``rgbmatrix`` importable, with its version or commit."""
        driver = settings.display.driver
        try:
            mod = self.loader("rgbmatrix")
        except Exception as exc:  # ImportError, or an ABI mismatch raising something else
            if not pi and driver != "rgbmatrix":
                self.add(SKIP, "rgbmatrix", "not installed (not needed off a Pi)")
                return
            fix = ("build and install hzeller's Python binding (docs/hardware.md, 'Installing "
                   "the library') into the engine's virtual environment.")
            level = FAIL if driver == "rgbmatrix" else WARN
            tail = "" if driver == "rgbmatrix" else \
                f"; display.driver {driver} falls back to the virtual panel and the LEDs stay dark"
            self.add(level, "rgbmatrix", f"cannot import rgbmatrix ({exc}){tail}", fix)
            return
        where = getattr(mod, "__file__", None) or "?"
        options = getattr(mod, "RGBMatrixOptions", None)
        if is_pi5(self.machine.model()) and options is not None \
                and not hasattr(options, "rp1_rio"):
            self.add(FAIL, "rgbmatrix", f"the rgbmatrix at {where} predates Pi 5 support (no "
                     "rp1_rio option): on a Pi 5 it cannot drive the panel",
                     "rebuild the library from the pinned commit (deploy/install.sh, or "
                     "docs/hardware.md 'Installing the library').")
            return
        facts = [f"version {getattr(mod, '__version__', 'unknown')}"]
        commit = _git_commit(Path(where)) if where != "?" else None
        if commit:
            facts.append(f"commit {commit[:12]}")
        self.add(PASS, "rgbmatrix", f"importable ({', '.join(facts)}) from {where}")

    def check_devices(self, settings: Settings, pi: bool) -> None:
        """/dev/mem and /dev/gpiomem (on a Pi 5 /dev/pio0 and /dev/gpiomem0), and root."""
        if not pi:
            self.add(SKIP, "device nodes", "no GPIO on this machine")
            return
        self.checks.extend(device_checks(self.machine, settings.display))

    def check_sound(self, pi: bool) -> None:
        """snd_bcm2835 not loaded, and ``dtparam=audio`` off in the boot config."""
        if not pi:
            self.add(SKIP, "snd_bcm2835", "on-board Pi sound does not exist here")
            return
        self.checks.extend(module_checks(self.machine))
        self.checks.extend(boot_config_checks(self.machine))

    def check_cmdline(self, pi: bool) -> None:
        """``isolcpus`` (a core for the refresh thread) and the memory cgroup (MemoryMax)."""
        self.checks.extend(cmdline_checks(
            self.machine.read("/proc/cmdline"),
            self.machine.read("/sys/fs/cgroup/cgroup.controllers"), pi))

    def _probe(self) -> SystemProbe:
        return SystemProbe(root=self.machine.root, run=self.run)

    def check_power(self, pi: bool) -> None:
        """Under-voltage and throttling, now and since boot."""
        self.checks.append(power_check(self._probe().throttled() if pi else None, pi))

    def check_temperature(self, settings: Settings, pi: bool) -> None:
        """CPU temperature against the health thresholds."""
        self.checks.append(temperature_check(self._probe().cpu_temp_c(), settings.health, pi))

    def check_display_options(self, settings: Settings, pi: bool) -> None:
        """Display options plausible for the library and for this board."""
        d = settings.display
        found = option_checks(d)
        if is_pi5(self.machine.model()):
            found += rp1_option_checks(d)
        if pi and self.machine.is_pi4() and d.gpio_slowdown < 2 and d.driver != "virtual":
            found.append(Check(WARN, "display.gpio_slowdown",
                               f"{d.gpio_slowdown} is too fast for a Pi 4's GPIO: expect "
                               "garbage or flicker",
                               "set display.gpio_slowdown to 4 (at least 2)."))
        if pi and d.driver == "virtual":
            found.append(Check(WARN, "display.driver", "virtual on a Pi: the panel stays dark",
                               "set display.driver to auto or rgbmatrix."))
        self.checks.extend(found)
        if not any(c.level == FAIL for c in found):
            self.add(PASS, "display options",
                     f"{d.width}x{d.height} ({d.cols}x{d.rows} panels, chain {d.chain_length}, "
                     f"parallel {d.parallel}), mapping {d.hardware_mapping}, "
                     f"gpio_slowdown {d.gpio_slowdown}, pwm_bits {d.pwm_bits}")

    def check_broker(self, settings: Settings) -> None:
        """The broker reachable with the configured credentials."""
        m = settings.mqtt
        if m.username is not None and m.username != settings.device_id:
            self.add(WARN, "broker user",
                     f"mqtt.username {m.username!r} is not the device id "
                     f"{settings.device_id!r}: the project's ACL lets a box's user publish only "
                     f"{m.base_topic}/<user>/..., so this box's topics are refused",
                     f"set mqtt.username to {settings.device_id!r} and give the broker that "
                     "user (docs/deployment.md, \"A fleet on one broker\").")
        ok, message = self.broker_probe(m, self.broker_timeout_s)
        if ok:
            self.add(PASS, "broker", message)
        elif "cannot reach" in message or "no answer" in message:
            self.add(FAIL, "broker", message,
                     f"is mosquitto running on {m.host}:{m.port}? Start it "
                     "(`systemctl status mosquitto`, or `lightbox dev` on a laptop) or fix "
                     "mqtt.host/mqtt.port.")
        elif "refused" in message:
            self.add(FAIL, "broker", message,
                     "check mqtt.username and the password in mqtt.password_file against the "
                     "broker's password file (deploy/mosquitto).")
        elif "password_file" in message or "TLS" in message:
            self.add(FAIL, "broker", message,
                     "point mqtt.password_file (or mqtt.tls) at files the engine can read.")
        else:
            self.add(FAIL, "broker", message,
                     f"start the broker (`systemctl status mosquitto`) or fix mqtt.host/mqtt.port "
                     f"({m.host}:{m.port}).")

    def check_service(self) -> None:
        """The engine's systemd service, where systemd runs."""
        if not self.machine.path("/run/systemd/system").is_dir():
            self.add(SKIP, "service", "systemd is not running here")
            return
        enabled = (self.run(["systemctl", "is-enabled", ENGINE_UNIT]) or "").strip()
        active = (self.run(["systemctl", "is-active", ENGINE_UNIT]) or "").strip()
        if enabled in ("", "not-found") and active in ("", "inactive"):
            self.add(WARN, "service", f"{ENGINE_UNIT} is not installed",
                     "install it with the deploy script (docs/deployment.md) once the panel works.")
        elif active == "active":
            self.add(PASS, "service", f"{ENGINE_UNIT} is active ({enabled or 'unknown'})")
        elif active == "failed":
            self.add(FAIL, "service", f"{ENGINE_UNIT} has failed",
                     f"read `journalctl -u {ENGINE_UNIT} -e`, fix the cause and "
                     f"`sudo systemctl restart {ENGINE_UNIT}`.")
        else:
            self.add(WARN, "service", f"{ENGINE_UNIT} is {active or 'unknown'} ({enabled})",
                     f"start it with `sudo systemctl enable --now {ENGINE_UNIT}` (stop it "
                     "while running `lightbox test-pattern`).")

    # ---------------------------------------------------------------- reporting
    def summary(self) -> dict[str, int]:
        """Count the findings per level."""
        return {str(level): n for level, n in count(self.checks).items()}

    def ok(self) -> bool:
        """True when nothing FAILed."""
        return not any(c.level == FAIL for c in self.checks)

    def report(self) -> dict[str, Any]:
        """Return the JSON report."""
        return {
            "ok": self.ok(),
            "host": {"model": self.machine.model(), "raspberry_pi": self.machine.is_pi(),
                     "root": self.machine.is_root()},
            "settings": str(self.settings_path),
            "summary": self.summary(),
            "checks": [c.as_dict() for c in self.checks],
        }

    def text(self) -> str:
        """Return the human report."""
        model = self.machine.model()
        head = (f"LightBox diagnose on {model}" if self.machine.is_pi()
                else f"LightBox diagnose on a machine that is not a Raspberry Pi "
                f"({model or 'no device-tree model'}): only what applies is checked")
        lines = [head, f"settings: {self.settings_path}", ""]
        lines += [c.line() for c in self.checks]
        s = self.summary()
        verdict = "nothing failed" if self.ok() else "fix the FAIL lines first"
        lines += ["", f"{s['PASS']} PASS, {s['WARN']} WARN, {s['FAIL']} FAIL, {s['SKIP']} SKIP: "
                  f"{verdict}"]
        return "\n".join(lines)


def _git_commit(module_file: Path) -> str | None:
    """Return the commit of a git checkout holding the module, if it is in one."""
    for parent in list(module_file.resolve().parents)[:6]:
        head = parent / ".git" / "HEAD"
        try:
            ref = head.read_text().strip()
        except OSError:
            continue
        if ref.startswith("ref: "):
            try:
                return (parent / ".git" / ref[5:]).read_text().strip()
            except OSError:
                return None
        return ref
    return None


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    """Add --settings, --json and the hidden --root."""
    from appliance.cli import settings_arg

    settings_arg(parser)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--root", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--broker-timeout", type=float, default=5.0, metavar="S",
                        help="seconds to wait for the broker (default 5)")


def run(args: argparse.Namespace) -> int:
    """Run every check; exit 0 when nothing FAILs, 1 otherwise."""
    from appliance.cli import settings_path

    machine = Machine(root=Path(args.root)) if args.root else Machine()  # $LIGHTBOX_HOST_ROOT
    diag = Diagnoser(machine=machine, settings_path=settings_path(args),
                     broker_timeout_s=args.broker_timeout)
    diag.run_all()
    if args.json:
        print(json.dumps(diag.report(), indent=2))
    else:
        print(diag.text())
    return 0 if diag.ok() else 1
