"""A throwaway local mosquitto run from the project's own deploy/mosquitto config.

Used by ``lightbox dev`` and by the test suite: renders ``deploy/mosquitto/
lightbox.conf`` with a free loopback port and generated passwords, keeps the
project's ACL as it is, and starts, stops, kills and restarts the broker.
Besides the service users it holds one user per box (named after the box's
device id, as the ACL's ``pattern`` lines expect), added with ``add_device``
even while the broker runs. Knows nothing of the engine or the bridge.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

#: The service users of deploy/mosquitto/acl; each box adds a user named after its device id.
USERS = ("lightbox-bridge", "lightbox-monitor", "homeassistant")
REPO_ROOT = Path(__file__).resolve().parents[2]


class BrokerError(RuntimeError):
    """mosquitto is missing or would not start."""


def deploy_dir() -> Path:
    """Return the project's deploy/mosquitto folder."""
    return REPO_ROOT / "deploy" / "mosquitto"


def free_port() -> int:
    """Return a TCP port that is free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Return True when something accepts TCP connections on ``host:port``."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
        return True
    return False


#: A stock mosquitto 2 with LightBox's users and ACL and nothing else: no
#: ``set_tcp_nodelay`` (Nagle on, the default), default queues and limits. What Home
#: Assistant's Mosquitto add-on and most users' brokers look like (``lightbox bench
#: --stock-broker``).
STOCK_CONFIG = "per_listener_settings false\nallow_anonymous false\n"


def render_config(source: str, port: int, password_file: Path, acl_file: Path,
                  persistence_dir: Path | None = None, log_file: Path | None = None) -> str:
    """Return ``source`` with the listener, password and ACL paths replaced."""
    out = []
    for line in source.splitlines():
        key = line.split("#", 1)[0].strip().split(" ", 1)[0]
        if key in ("listener", "password_file", "acl_file", "persistence",
                   "persistence_location", "autosave_interval", "log_dest", "pid_file"):
            continue
        out.append(line)
    out += [
        "",
        "# --- throwaway overrides (lightbox dev / tests) ---",
        f"listener {port} 127.0.0.1",
        f"password_file {password_file}",
        f"acl_file {acl_file}",
    ]
    if persistence_dir is not None:
        out += ["persistence true", f"persistence_location {persistence_dir}/",
                "autosave_interval 1"]
    else:
        out.append("persistence false")
    out.append(f"log_dest file {log_file}" if log_file else "log_dest stderr")
    out.append("log_type error\nlog_type warning\nlog_type notice\nlog_type information")
    out.append("connection_messages true")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # As root mosquitto would switch to the `mosquitto` user, who cannot read
        # throwaway files in a private temp folder; this broker is loopback-only.
        out.append("user root")
    return "\n".join(out) + "\n"


@dataclass
class LocalBroker:
    """A mosquitto process in ``workdir`` with generated credentials."""

    workdir: Path
    port: int = 0
    persistent: bool = False
    passwords: dict[str, str] = field(default_factory=dict)
    #: Device ids with a broker user of their own (the engine logs in as its device id).
    devices: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None
    binary: str = "mosquitto"
    #: Whether this object wrote the config; one left by an earlier run is never trusted.
    prepared: bool = False
    #: A stock mosquitto (``STOCK_CONFIG``: auth and the ACL, every other setting at its
    #: default, Nagle on) instead of the project's tuned config: what most users run.
    stock: bool = False

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port()

    @property
    def host(self) -> str:
        """The broker's address."""
        return "127.0.0.1"

    @property
    def log_file(self) -> Path:
        """Where mosquitto logs."""
        return self.workdir / "mosquitto.log"

    def password_file(self, user: str) -> Path:
        """Return the file holding ``user``'s password (mode 0600)."""
        return self.workdir / f"{user}.password"

    def _passwd_tool(self) -> str:
        passwd = shutil.which("mosquitto_passwd")
        if passwd is None:
            raise BrokerError(
                "mosquitto_passwd is not installed: run `sudo apt-get install mosquitto "
                "mosquitto-clients` (the README's commands do this for you)"
            )
        return passwd

    def _password(self, user: str) -> str:
        """Return ``user``'s password: the one known, else the one in its file, else a new one.

        Reading the file back keeps the passwords of a reused ``workdir`` (a second
        ``lightbox dev --workdir DIR``), so scripts and Home Assistant set up against
        the first run keep working.
        """
        if user not in self.passwords:
            known = ""
            with contextlib.suppress(OSError, IndexError):
                known = self.password_file(user).read_text(encoding="utf-8").splitlines()[0]
            self.passwords[user] = known.strip() or secrets.token_urlsafe(18)
        return self.passwords[user]

    def _add_user(self, user: str) -> None:
        """Give ``user`` a password (kept across restarts) in the password file."""
        pw = self._password(user)
        subprocess.run([self._passwd_tool(), "-b", str(self.workdir / "passwd"), user, pw],
                       check=True, capture_output=True)
        f = self.password_file(user)
        f.write_text(pw + "\n", encoding="utf-8")
        f.chmod(0o600)

    def add_device(self, device_id: str, timeout_s: float = 10.0) -> str:
        """Make sure box ``device_id`` has its own broker user; return the user name.

        A running broker reloads its password file (SIGHUP); this returns once the
        new user can log in.
        """
        if device_id in self.devices:
            return device_id
        if device_id in USERS:
            raise BrokerError(f"{device_id!r} is a service user, not a device id")
        self.devices.append(device_id)
        if not self.prepared:
            return device_id  # prepare() creates every user
        self._add_user(device_id)
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + timeout_s
            while True:
                time.sleep(0.05)  # mosquitto reloads between two network events
                if login_works(self.host, self.port, device_id, self.passwords[device_id]):
                    break
                if time.monotonic() > deadline:
                    raise BrokerError(f"mosquitto did not load user {device_id!r} "
                                      f"within {timeout_s} s")
        return device_id

    def prepare(self) -> Path:
        """Generate passwords and the config; return the config path."""
        exe = shutil.which(self.binary) or shutil.which(f"/usr/sbin/{self.binary}")
        if exe is None:
            raise BrokerError(
                "mosquitto is not installed: run `sudo apt-get install mosquitto "
                "mosquitto-clients` (the README's commands do this for you)"
            )
        self.binary = exe
        pw_file = self.workdir / "passwd"
        pw_file.unlink(missing_ok=True)
        pw_file.touch(mode=0o600)
        for user in (*USERS, *self.devices):
            self._add_user(user)
        src = STOCK_CONFIG if self.stock else (deploy_dir() / "lightbox.conf").read_text(
            encoding="utf-8")
        persist = self.workdir / "data" if self.persistent else None
        if persist is not None:
            persist.mkdir(exist_ok=True)
        conf = render_config(src, self.port, pw_file, deploy_dir() / "acl", persist,
                             self.log_file)
        conf_path = self.workdir / "mosquitto.conf"
        conf_path.write_text(conf, encoding="utf-8")
        self.prepared = True
        # mosquitto refuses world-readable password files in future versions; keep them tight.
        with contextlib.suppress(OSError):
            os.chmod(pw_file, 0o600)
        return conf_path

    def start(self, timeout_s: float = 10.0) -> None:
        """Start mosquitto and wait until it accepts connections.

        The first start of this object writes the config and password file afresh
        (port, users); a ``restart`` reuses them.
        """
        conf = self.workdir / "mosquitto.conf"
        if not self.prepared or not conf.exists():
            conf = self.prepare()
        self.process = subprocess.Popen(
            [self.binary, "-c", str(conf)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                log = self.log_file.read_text() if self.log_file.exists() else ""
                raise BrokerError(f"mosquitto exited at start: {err.strip()} {log[-2000:]}")
            if port_open(self.port):
                return
            time.sleep(0.05)
        self.stop()
        raise BrokerError(f"mosquitto did not listen on port {self.port} within {timeout_s} s")

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop mosquitto gracefully (SIGTERM, then SIGKILL)."""
        p = self.process
        if p is None:
            return
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout_s)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout_s)
        if p.stderr:
            p.stderr.close()
        self.process = None
        self._wait_port_closed()

    def kill(self) -> None:
        """Kill mosquitto abruptly (SIGKILL)."""
        p = self.process
        if p is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(p.pid, signal.SIGKILL)
        p.wait(5)
        if p.stderr:
            p.stderr.close()
        self.process = None
        self._wait_port_closed()

    def restart(self) -> None:
        """Stop and start on the same port with the same passwords."""
        self.stop()
        self.start()

    def _wait_port_closed(self, timeout_s: float = 5.0) -> None:
        deadline = time.monotonic() + timeout_s
        while port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)

    def log_tail(self, chars: int = 4000) -> str:
        """Return the end of mosquitto's log."""
        try:
            return self.log_file.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def login_works(host: str, port: int, user: str, password: str, timeout_s: float = 2.0) -> bool:
    """Return True when the broker accepts an MQTT 3.1.1 CONNECT as ``user``."""

    def field_(b: bytes) -> bytes:
        return len(b).to_bytes(2, "big") + b

    body = (field_(b"MQTT") + bytes([4, 0xC2]) + (10).to_bytes(2, "big")
            + field_(f"lightbox-login-{secrets.token_hex(4)}".encode())
            + field_(user.encode()) + field_(password.encode()))
    if len(body) > 127:
        raise ValueError("user name and password too long for this probe")
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as s:
            s.sendall(bytes([0x10, len(body)]) + body)
            ack = s.recv(4)
            with contextlib.suppress(OSError):
                s.sendall(bytes([0xE0, 0]))  # DISCONNECT
    except OSError:
        return False
    return len(ack) == 4 and ack[0] == 0x20 and ack[3] == 0


def acl_users() -> list[str]:
    """Return the users named in the project's ACL file."""
    text = (deploy_dir() / "acl").read_text(encoding="utf-8")
    return re.findall(r"^user\s+(\S+)", text, flags=re.M)
