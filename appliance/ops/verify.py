"""`lightbox verify`: the deployment checklist of a running install, as PASS/FAIL lines.

Checks what docs/deployment.md lists: settings and secret files, the systemd
units (active, enabled, engine READY), the broker (anonymous refused, the
monitor user reads health but cannot command, the box's own login cannot
publish for another box), fresh retained health, a command round trip, that
the bridge on the configured port is this box (``/api/info`` device_id), every
GET endpoint of the bridge with the token, auth on writes, and log rotation.

The write checks change nothing the panel shows: they send the running
animation an empty parameter set (``cmd/params {}``, ``POST /api/params {}``),
which the engine applies as a no-op, and they compare the look (power,
brightness, animation, parameters, clock) before and after. They run only
once every MQTT check passed and the bridge proved to be this box; otherwise
they are SKIP lines with the reason. Credentials come from the files the settings point
to, plus the monitor's password file (``--monitor-password-file``). Talks MQTT
only through ``appliance.mqtt.check.CheckClient``. Knows nothing of the render
loop or Flask.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from appliance.cli import settings_arg
from appliance.ops.checks import FAIL, PASS, SKIP, Check, count
from appliance.ops.verify_http import NO_OP_PARAMS, HttpChecks, look_changes
from appliance.settings import SettingsError, load, read_secret
from appliance.system import Completed, run_command
from appliance.wire import topics

INSTALLED_SETTINGS = Path("/etc/lightbox/settings.json")
DEFAULT_MONITOR_USER = "lightbox-monitor"
MONITOR_PASSWORD_NAME = "mqtt-monitor.password"
LOGROTATE_CONF = Path("/etc/logrotate.d/lightbox")
UNITS = ("mosquitto.service", "lightbox-engine.service", "lightbox-bridge.service",
         "lightbox.target")
NOT_AUTHORIZED = 0x87
ROUND_TRIP = "command round trip (a no-op command, state unchanged)"


def as_json(c: Check) -> dict[str, Any]:
    """One checklist line as verify's JSON has always had it."""
    return {"name": c.name, "ok": c.ok, "detail": c.message, "skipped": c.level is SKIP,
            "status": str(c.level)}


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    """Add the options of `lightbox verify`."""
    settings_arg(parser)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--no-systemd", action="store_true",
                        help="skip the unit checks (for a manual run without systemd)")
    parser.add_argument("--monitor-user", default=DEFAULT_MONITOR_USER,
                        help="read-only broker user (default: %(default)s)")
    parser.add_argument("--monitor-password-file", metavar="PATH", default=None,
                        help="its password file (default: mqtt-monitor.password beside "
                             "mqtt.password_file, as install.sh writes it)")
    parser.add_argument("--logrotate-conf", metavar="PATH", default=str(LOGROTATE_CONF),
                        help="logrotate config to check (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=5.0,
                        help="seconds to wait for each answer (default: %(default)s)")


class Verifier(HttpChecks):
    """Runs the checks in order and collects the lines."""

    def __init__(self, args: argparse.Namespace, settings_path: Path) -> None:
        super().__init__(args.timeout)
        self.args = args
        self.path = settings_path

    @property
    def base(self) -> str:
        assert self.settings is not None
        return topics.base(self.settings.mqtt.base_topic, self.settings.device_id)

    def mqtt(self, user: str | None, password: str | None) -> Any:
        from appliance.mqtt.check import CheckClient

        assert self.settings is not None
        m = self.settings.mqtt
        return CheckClient(m.host, m.port, user, password, m.tls)

    def monitor_password_file(self) -> Path:
        if self.args.monitor_password_file:
            return Path(self.args.monitor_password_file)
        assert self.settings is not None
        pw = self.settings.mqtt.password_file
        folder = pw.parent if pw is not None else self.path.parent / "secrets"
        # install.sh writes mqtt-monitor.password; `lightbox dev` names files after the user.
        candidates = [folder / MONITOR_PASSWORD_NAME, folder / f"{self.args.monitor_user}.password"]
        return next((c for c in candidates if c.exists()), candidates[0])

    # ------------------------------------------------------------------ the checklist
    def run(self) -> list[Check]:
        """Run every check; later checks that need the settings are skipped as FAIL."""
        if not self.check_settings():
            return self.checks
        self.check_secrets()
        if self.args.no_systemd:
            pass
        elif not Path("/run/systemd/system").is_dir():
            self.add("systemd units", False,
                     "systemd is not running as PID 1 here (no /run/systemd/system), so the "
                     "units cannot be checked; use --no-systemd for a manual run")
        else:
            self.check_units()
        first_mqtt = len(self.checks)
        self.check_broker()
        self.check_box_login()
        failed = self.failed_since(first_mqtt)
        if failed:
            self.no_writes = "MQTT checks failed (" + ", ".join(failed) + ")"
        self.check_round_trip()
        self.check_http()
        self.check_logrotate()
        return self.checks

    def check_settings(self) -> bool:
        try:
            self.settings = load(self.path)
        except SettingsError as exc:
            return self.add("settings valid", False, f"{self.path}: " + "; ".join(exc.lines()))
        return self.add("settings valid", True, str(self.path))

    def check_secrets(self) -> None:
        assert self.settings is not None
        files = {"mqtt.password_file": self.settings.mqtt.password_file,
                 "bridge.mqtt_password_file": self.settings.bridge.mqtt_password_file,
                 "bridge.auth_token_file": self.settings.bridge.auth_token_file,
                 "monitor password": self.monitor_password_file()}
        for label, path in files.items():
            if path is None:
                self.add(f"secret {label}", False, "not set in the settings")
                continue

            def one(p: Path = path) -> tuple[bool, str]:
                if not p.exists():
                    return False, f"{p} does not exist"
                mode = p.stat().st_mode & 0o777
                if not read_secret(p):
                    return False, f"{p} is empty"
                if mode & 0o007:
                    return False, f"{p} is readable by everyone (mode {mode:04o})"
                return True, f"{p} (mode {mode:04o})"

            self.guard(f"secret {label}", one)

    def check_units(self) -> None:
        for unit in UNITS:
            def one(u: str = unit) -> tuple[bool, str]:
                active = _systemctl("is-active", u)
                enabled = _systemctl("is-enabled", u)
                return (active == "active" and enabled == "enabled",
                        f"{active}, {enabled}")

            self.guard(f"unit {unit} active and enabled", one)

        def ready() -> tuple[bool, str]:
            props = _show("lightbox-engine.service", "Type", "ActiveState", "SubState",
                          "StatusText", "NRestarts", "WatchdogUSec")
            ok = props.get("Type") == "notify" and props.get("ActiveState") == "active"
            return ok, (f"{props.get('ActiveState')}/{props.get('SubState')}, "
                        f"status {props.get('StatusText') or '-'!r}, "
                        f"restarts {props.get('NRestarts')}, watchdog {props.get('WatchdogUSec')}")

        self.guard("engine READY (sd_notify)", ready)

    def check_broker(self) -> None:
        assert self.settings is not None

        def anonymous() -> tuple[bool, str]:
            c = self.mqtt(None, None)
            try:
                if c.connect(self.timeout_s):
                    return False, "an anonymous client was let in"
                reason = str(c.refused)
                unreachable = reason.startswith(("cannot reach", "no answer"))
                return not unreachable, reason
            finally:
                c.close()

        self.guard("broker refuses anonymous clients", anonymous)
        pw_file = self.monitor_password_file()
        password = read_secret(pw_file) if pw_file.exists() else None
        mon = self.mqtt(self.args.monitor_user, password)
        try:
            if not mon.connect(self.timeout_s):
                self.add("monitor user logs in", False, f"{self.args.monitor_user}: {mon.refused}")
                return
            self.add("monitor user logs in", True, self.args.monitor_user)
            self.guard("engine online (retained status)", lambda: self._status(mon))
            self.guard("health fresh and not failed", lambda: self._health(mon))
            self.guard("monitor user cannot command", lambda: self._cannot_command(mon))
        finally:
            mon.close()

    def _retained(self, client: Any, name: str) -> tuple[str, bytes | None]:
        """Read one retained topic of the box: (its topic, the payload or None)."""
        topic = topics.state_topic(self.base, name)
        got = client.read([topic], wait_s=self.timeout_s, until=lambda m: topic in m)
        return topic, got.get(topic)

    def _status(self, mon: Any) -> tuple[bool, str]:
        topic, raw = self._retained(mon, "status")
        value = (raw or b"").decode(errors="replace")
        return value == "online", f"{topic} = {value or '(nothing retained)'}"

    def _health(self, mon: Any) -> tuple[bool, str]:
        assert self.settings is not None
        topic, raw = self._retained(mon, "health")
        if raw is None:
            return False, f"nothing on {topic}"
        health = json.loads(raw)
        ts = datetime.fromisoformat(str(health["ts"]).replace("Z", "+00:00"))
        age = (datetime.now(UTC) - ts).total_seconds()
        limit = max(3 * self.settings.health.interval_s, 30.0)
        status = health.get("status")
        reasons = "; ".join(health.get("reasons") or []) or "no reasons"
        detail = f"status {status} ({reasons}), {age:.0f} s old (limit {limit:.0f} s)"
        return age <= limit and status in ("ok", "degraded"), detail

    def _cannot_command(self, mon: Any) -> tuple[bool, str]:
        # Harmless if it ever got through: reload re-reads the same settings file.
        topic = topics.command(self.base, "reload")
        code = mon.publish(topic, b"", timeout_s=self.timeout_s)
        if code is None:
            return False, f"no PUBACK for {topic}"
        return code == NOT_AUTHORIZED, f"PUBACK {code:#04x} on {topic} (want 0x87 Not authorized)"

    def check_box_login(self) -> None:
        """The engine's own broker user may not publish what is not this box's."""
        assert self.settings is not None
        m = self.settings.mqtt
        name = "box login speaks for this box alone"
        if m.username is None:
            self.add(name, False, "mqtt.username is not set")
            return
        c = self.mqtt(m.username, read_secret(m.password_file))
        try:
            if not c.connect(self.timeout_s):
                self.add(name, False, f"{m.username}: {c.refused}")
                return
            self.guard(name, lambda: self._confined(c, m.base_topic))
        finally:
            c.close()

    def _confined(self, c: Any, base_topic: str) -> tuple[bool, str]:
        # Not retained and empty: harmless if a shared login ever let it through.
        topic = topics.state_topic(topics.all_base(base_topic), "status")
        code = c.publish(topic, b"", timeout_s=self.timeout_s)
        if code is None:
            return False, f"no PUBACK for {topic}"
        return code == NOT_AUTHORIZED, (f"PUBACK {code:#04x} on {topic} (want 0x87 Not "
                                        "authorized: one box's login must not speak for others)")

    def check_round_trip(self) -> None:
        assert self.settings is not None
        b = self.settings.bridge
        name = ROUND_TRIP
        if self.no_writes is not None:
            self.skip(name, self.no_writes)
            return
        user = b.mqtt_username
        if user is None:
            self.add(name, False, "bridge.mqtt_username is not set")
            self.no_writes = "bridge.mqtt_username is not set"
            return
        c = self.mqtt(user, read_secret(b.mqtt_password_file))
        try:
            if not c.connect(self.timeout_s):
                self.add(name, False, f"{user} refused: {c.refused}")
            else:
                self.guard(name, lambda: self._round_trip(c))
        finally:
            c.close()
        if self.checks[-1].level is FAIL:
            self.no_writes = "the command round trip failed"

    def _round_trip(self, c: Any) -> tuple[bool, str]:
        """Send the no-op ``cmd/params {}``; the reply and the retained state must match."""
        assert self.settings is not None
        state_t, raw = self._retained(c, "state")
        if raw is None:
            return False, f"nothing retained on {state_t}"
        before = json.loads(raw)
        self.state = before
        topic = topics.command(self.base, "params")
        reply_t = topics.reply_topic(self.settings.mqtt.base_topic, "verify",
                                     uuid.uuid4().hex[:8])
        t0 = time.monotonic()
        reply = c.request(topic, NO_OP_PARAMS, reply_t, self.timeout_s)
        if reply is None:
            return False, f"no reply to {topic} within {self.timeout_s} s"
        ms = (time.monotonic() - t0) * 1000
        body = json.loads(reply)
        if not body.get("ok"):
            return False, f"{topic} {{}} refused: {body.get('error')}"
        answered = body.get("state") or {}
        version = answered.get("version", 0)

        def caught_up(m: dict[str, bytes]) -> bool:
            return json.loads(m.get(state_t, b"{}")).get("version", -1) >= version

        seen = c.read([state_t], wait_s=self.timeout_s, until=caught_up)
        after = json.loads(seen.get(state_t, b"{}"))
        if after.get("version", -1) < version:
            return False, f"the retained state never reached version {version}"
        changed = look_changes(before, after)
        if changed:
            return False, f"the panel changed during the check: {changed}"
        return True, (f"{topic} {{}} answered in {ms:.0f} ms, state version "
                      f"{before.get('version')} -> {after.get('version')}, "
                      f"{before.get('effect')} unchanged")

    def check_logrotate(self) -> None:
        conf = Path(self.args.logrotate_conf)

        def one() -> tuple[bool, str]:
            if not conf.exists():
                return False, f"{conf} is missing"
            exe = shutil.which("logrotate") or "/usr/sbin/logrotate"
            if not Path(exe).exists():
                return False, "logrotate is not installed"
            r = _ran(run_command([exe, "--debug", str(conf)], timeout_s=30), exe)
            problems = [ln for ln in r.stderr.splitlines() if ln.startswith("error")]
            if r.returncode != 0 or problems:
                return False, "; ".join(problems or [r.stderr.strip()[-300:]])
            return True, str(conf)

        self.guard("log rotation configured", one)


# ---------------------------------------------------------------------------------------


def _ran(done: Completed | None, what: str) -> Completed:
    """The finished program, or an error for the check's FAIL line (missing or hung)."""
    if done is None:
        raise RuntimeError(f"{what} is not installed or did not finish in time")
    return done


def _systemctl(verb: str, unit: str) -> str:
    r = _ran(run_command(["systemctl", verb, unit], timeout_s=15), "systemctl")
    return (r.stdout.strip() or r.stderr.strip() or f"exit {r.returncode}").splitlines()[0]


def _show(unit: str, *props: str) -> dict[str, str]:
    r = _ran(run_command(["systemctl", "show", unit, *(f"-p{p}" for p in props)],
                         timeout_s=15), "systemctl")
    return dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)


def default_path(cli_value: str | None) -> Path:
    """--settings, else $LIGHTBOX_SETTINGS, else ./settings.json, else the installed file."""
    if cli_value:
        return Path(cli_value)
    env = os.environ.get("LIGHTBOX_SETTINGS")
    if env:
        return Path(env)
    local = Path("settings.json")
    return local if local.exists() or not INSTALLED_SETTINGS.exists() else INSTALLED_SETTINGS


def run(args: argparse.Namespace) -> int:
    """Print the checklist; exit 0 only when every check passes."""
    path = default_path(args.settings)
    if not path.exists():
        print(f"no install found here: no settings file at {path} (nor {INSTALLED_SETTINGS}). "
              "Install with deploy/install.sh (docs/deployment.md), or point --settings at the "
              "box's file (for `lightbox dev`: --settings WORKDIR/settings.json --no-systemd).")
        return 1
    checks = Verifier(args, path).run()
    n = count(checks)
    ok = n[PASS] == len(checks)
    if args.json:
        print(json.dumps({"ok": ok, "passed": n[PASS], "failed": n[FAIL], "skipped": n[SKIP],
                          "checks": [as_json(c) for c in checks]}, indent=2))
    else:
        width = max(len(c.name) for c in checks)
        for c in checks:
            print(f"{c.level}  {c.name:<{width}}  {c.message}")
        print(f"\n{len(checks)} checks: {n[PASS]} passed, {n[FAIL]} failed, "
              f"{n[SKIP]} skipped")
        sys.stdout.flush()
    return 0 if ok else 1
