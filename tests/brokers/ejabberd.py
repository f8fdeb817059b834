"""A throwaway ejabberd node (Debian's package) whose ``mod_mqtt`` is the broker under test.

Owns writing its config, ctl config and spool under one temporary folder (owned by
the ``ejabberd`` user, as ``ejabberdctl`` runs the node as that user), starting it
on a free loopback port with a node name of its own, registering users, and
stopping or killing it by its own pid. It looks enough like
``appliance.ops.broker.LocalBroker`` (host, port, passwords, ``add_device``,
``password_file``) for the shared harness (``MQTTProbe``, ``engine_settings``)
to drive it. Knows nothing of engines.

The ACL mirrors deploy/mosquitto/acl where mod_mqtt can say it: ``%u`` works
only as a whole topic level, so ``homeassistant/device/lightbox_%u/config``
cannot be scoped to the box (every box may write every box's discovery
document here); the rest (own topics, commands from the controllers only, the
monitor's read-only view) is kept.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from appliance.ops.broker import free_port, port_open
from appliance.testing import wait_until

DOMAIN = "localhost"
CONTROLLERS = ("homeassistant", "lightbox-bridge")
MONITOR = "lightbox-monitor"

CONFIG = """\
loglevel: info
hosts:
  - {domain}
listen:
  -
    port: {port}
    ip: "127.0.0.1"
    module: mod_mqtt
    backlog: 1000
auth_method: internal
auth_password_format: scram
acl:
  local:
    user_regexp: ""
  controllers:
    user: [{controllers}]
  monitor:
    user: [{monitor}]
access_rules:
  local:
    allow: local
  controllers:
    allow: controllers
  monitor:
    allow: monitor
api_permissions:
  "console commands":
    from:
      - ejabberd_ctl
    who: all
    what: "*"
modules:
  mod_mqtt:
    session_expiry: 0
    access_publish:
      "lightbox/%u/#": local
      "lightbox/_reply/#": local
      "homeassistant/device/+/config": local
      "lightbox/+/set": controllers
      "lightbox/+/cmd/#": controllers
      "lightbox/group/#": controllers
      "lightbox/all/#": controllers
      "homeassistant/#": controllers
    access_subscribe:
      "lightbox/%u/#": local
      "lightbox/all/#": local
      "lightbox/group/#": local
      "homeassistant/status": local
      "lightbox/_reply/#": controllers
      "lightbox/#": controllers
      "homeassistant/#": controllers
      "lightbox/+/health": monitor
      "lightbox/+/status": monitor
      "lightbox/+/metrics": monitor
"""


class EjabberdError(RuntimeError):
    """ejabberd would not start, stop or register a user."""


def available() -> bool:
    """True when Debian's ejabberd is installed and this process can run it (root)."""
    try:
        pwd.getpwnam("ejabberd")
    except KeyError:
        return False
    return shutil.which("ejabberdctl") is not None and os.geteuid() == 0


class Ejabberd:
    """One ejabberd node with mod_mqtt on a free loopback port, its files in a temp folder."""

    def __init__(self, name: str = "lbtest") -> None:
        self.root = Path(tempfile.mkdtemp(prefix="lightbox-ejabberd-"))
        self.node = f"{name}{os.getpid()}@{DOMAIN}"
        self.port = free_port()
        #: Full broker user name (``name@localhost``) -> password.
        self.passwords: dict[str, str] = {}
        self.devices: list[str] = []
        self._pid: int | None = None
        self._write_files()

    @property
    def host(self) -> str:
        """The broker's address."""
        return "127.0.0.1"

    @property
    def pid_file(self) -> Path:
        """Where the node writes its pid (``EJABBERD_PID_PATH``)."""
        return self.root / "ejabberd.pid"

    def _write_files(self) -> None:
        (self.root / "spool").mkdir()
        (self.root / "logs").mkdir()
        (self.root / "ejabberd.yml").write_text(CONFIG.format(
            domain=DOMAIN, port=self.port, controllers=", ".join(CONTROLLERS), monitor=MONITOR))
        (self.root / "ejabberdctl.cfg").write_text(
            f"ERLANG_NODE={self.node}\nEJABBERD_PID_PATH={self.pid_file}\n")
        with contextlib.suppress(FileNotFoundError):
            shutil.copy("/etc/ejabberd/inetrc", self.root / "inetrc")
        shutil.chown(self.root, "ejabberd", "ejabberd")
        for path in self.root.rglob("*"):
            shutil.chown(path, "ejabberd", "ejabberd")

    def ctl(self, *args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
        """Run ``ejabberdctl`` on this node (as the ejabberd user, which it switches to)."""
        r = self.root
        return subprocess.run(
            ["ejabberdctl", "--config-dir", str(r), "--config", str(r / "ejabberd.yml"),
             "--ctl-config", str(r / "ejabberdctl.cfg"), "--spool", str(r / "spool"),
             "--logs", str(r / "logs"), *args],
            capture_output=True, text=True, timeout=timeout_s, check=False)

    def start(self, timeout_s: float = 60) -> Ejabberd:
        """Start the node and wait until it accepts MQTT connections and ctl commands."""
        res = self.ctl("start")
        if res.returncode != 0:
            raise EjabberdError(f"ejabberdctl start: {res.stdout}{res.stderr}")
        deadline = time.monotonic() + timeout_s
        while not port_open(self.port):
            if time.monotonic() > deadline:
                raise EjabberdError(f"ejabberd did not listen on {self.port}:\n{self.log_tail()}")
            time.sleep(0.2)
        wait_until(lambda: self.pid() is not None, timeout_s=10, message="ejabberd's pid file")
        for user in list(self.passwords):  # after a kill, mnesia may have lost the newest users
            self._register(user.split("@")[0], self.passwords[user])
        return self

    def pid(self) -> int | None:
        """The node's pid while it runs, else None.

        Remembered from the pid file: ejabberd removes that file early in its
        shutdown, while the VM still runs and holds the node name.
        """
        if self._pid is None:
            with contextlib.suppress(OSError, ValueError):
                self._pid = int(self.pid_file.read_text().strip())
        if self._pid is None:
            return None
        try:
            os.kill(self._pid, 0)
        except OSError:
            self._pid = None
        return self._pid

    def _wait_gone(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while (self.pid() is not None or port_open(self.port)) and time.monotonic() < deadline:
            time.sleep(0.2)

    def stop(self, timeout_s: float = 30) -> None:
        """``ejabberdctl stop``; SIGKILL by its own pid when it does not go."""
        if self.pid() is None:
            return
        self.ctl("stop")
        self._wait_gone(timeout_s)
        self.kill()

    def kill(self) -> None:
        """SIGKILL this node (by the pid it wrote), as a crashed broker."""
        pid = self.pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            self._wait_gone(10)

    def join(self, other: Ejabberd) -> None:
        """Join ``other``'s cluster (this node's mnesia is replaced by a copy of the cluster's)."""
        res = self.ctl("join_cluster", other.node, timeout_s=120)
        if res.returncode != 0:
            raise EjabberdError(f"join_cluster {other.node}: {res.stdout}{res.stderr}")
        wait_until(lambda: port_open(self.port), timeout_s=60, message="the joined node's port")
        self.passwords.update(other.passwords)

    def restart(self) -> None:
        """Stop and start again (same port, same spool: users and retained kept)."""
        self.stop()
        self.start()

    def cleanup(self) -> None:
        """Stop, remove the temp folder, and stop epmd when no Erlang node is left on it."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
        epmd = shutil.which("epmd")
        if epmd is None:
            return
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            names = subprocess.run([epmd, "-names"], capture_output=True, text=True,
                                   timeout=10, check=False).stdout
            if "name " not in names:
                subprocess.run([epmd, "-kill"], capture_output=True, timeout=10, check=False)

    def _register(self, name: str, password: str) -> None:
        res = self.ctl("register", name, DOMAIN, password)
        if res.returncode != 0 and "already registered" not in res.stdout + res.stderr:
            raise EjabberdError(f"register {name}: {res.stdout}{res.stderr}")

    def add_user(self, name: str) -> str:
        """Register ``name`` (once) and write its password file; return ``name@localhost``."""
        user = name if "@" in name else f"{name}@{DOMAIN}"
        if user not in self.passwords:
            password = secrets.token_urlsafe(16)
            self._register(user.split("@")[0], password)
            self.passwords[user] = password
            path = self.password_file(user)
            path.write_text(password + "\n")
            path.chmod(0o600)
        return user

    def add_device(self, device_id: str) -> str:
        """The box's own broker user (``device_id@localhost``), as LocalBroker.add_device."""
        if device_id not in self.devices:
            self.devices.append(device_id)
        return self.add_user(device_id)

    def password_file(self, user: str) -> Path:
        """The file holding ``user``'s password (readable by root only)."""
        name = user if "@" in user else f"{user}@{DOMAIN}"
        return self.root / f"{name}.password"

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the node's log."""
        try:
            return (self.root / "logs" / "ejabberd.log").read_text(errors="replace")[-chars:]
        except OSError:
            return ""
