"""`lightbox dev`: a local mosquitto, the engine and the bridge, for a laptop or a Pi.

Owns the dev lifecycle. The work folder (``--workdir``, else a fresh temp folder)
holds everything: the broker's config, passwords and log, and ``settings.json``,
the live settings file the engine and the bridge run on. That file is seeded from
``--settings`` on the first start only (or with ``--reset``), so a change made in
the web UI or over MQTT survives the next start. On every start dev rewrites the
keys it owns (``DEV_OWNED``: where the broker is, how the bridge listens) from its
flags and regenerates the broker config for the chosen port; passwords already in
the folder are kept. It runs engine and bridge as child processes, prints where to
look, and stops all three on Ctrl-C, leaving no process behind.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import importlib.util
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psutil

from appliance.cli import settings_arg, settings_path
from appliance.ops.broker import BrokerError, LocalBroker, free_port, port_open
from appliance.settings import EX_CONFIG, SettingsError, default_device_id, load, merge
from appliance.wire import jsonsafe

#: The web UI's port when neither --web-port nor a free 5001 decides otherwise.
DEFAULT_WEB_PORT = 5001
#: Settings keys dev sets from its flags on every start (changes to them in the UI do not stick).
DEV_OWNED = ("mqtt.host", "mqtt.port", "mqtt.username", "mqtt.password_file", "mqtt.tls",
             "bridge.host", "bridge.port", "bridge.auth_token_file", "bridge.mqtt_username",
             "bridge.mqtt_password_file")


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    """Add the dev options."""
    settings_arg(parser)
    parser.add_argument("--port", type=int, default=0,
                        help="the broker's port (default: a free one, new each start)")
    parser.add_argument("--web-port", "--http-port", dest="web_port", type=int, default=0,
                        help=f"the web UI's port (default: {DEFAULT_WEB_PORT}, or a free one "
                             f"when {DEFAULT_WEB_PORT} is taken)")
    parser.add_argument("--workdir", default=None,
                        help="folder for the live settings, broker and logs; reuse it to keep "
                             "settings changes (default: a new temp folder)")
    parser.add_argument("--reset", action="store_true",
                        help="re-seed the work folder's settings.json from --settings, "
                             "dropping changes made in the UI")
    parser.add_argument("--lan", action="store_true",
                        help="let phones on the LAN reach the web UI (binds 0.0.0.0; "
                             "auth is off in dev)")


@dataclass
class Seeded:
    """The settings dev starts from and a sentence on where they came from."""

    base: dict[str, Any]
    device: str
    origin: str


def read_settings(path: Path) -> dict[str, Any]:
    """Return the settings file at ``path`` as a dict, validated (raises SettingsError)."""
    load(path)
    data = jsonsafe.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def seed(live: Path, source: Path, reset: bool) -> Seeded:
    """Pick the settings to start from: the live file, else (or on reset) ``source``."""
    if live.exists() and not reset:
        base = read_settings(live)
        return Seeded(base, str(base.get("device_id") or default_device_id()),
                      f"kept from the last start; --reset re-seeds it from {source}")
    if source.exists():
        base = read_settings(source)
        return Seeded(base, str(base.get("device_id") or default_device_id()),
                      f"seeded from {source}")
    return Seeded({}, default_device_id(), f"seeded from the defaults ({source} does not exist)")


def derived_settings(base: dict[str, Any], broker: LocalBroker, http_port: int,
                     device_id: str, host: str = "127.0.0.1") -> dict[str, Any]:
    """Return ``base`` pointed at the local broker, without auth on the bridge.

    Sets exactly the ``DEV_OWNED`` keys (and ``device_id``). The engine logs in as
    box ``device_id``'s own broker user (named after it).
    """
    user = broker.add_device(device_id)
    overrides = {
        "device_id": device_id,
        "mqtt": {"host": broker.host, "port": broker.port, "username": user,
                 "password_file": str(broker.password_file(user)), "tls": None},
        "bridge": {"host": host, "port": http_port, "auth_token_file": None,
                   "mqtt_username": "lightbox-bridge",
                   "mqtt_password_file": str(broker.password_file("lightbox-bridge"))},
    }
    return merge(base, overrides)


def choose_web_port(wanted: int) -> tuple[int, str | None]:
    """Return the web port and, when it is not the one asked for, why."""
    if wanted:
        if port_open(wanted):
            raise OSError(f"port {wanted} (--web-port) is taken; pick another or leave it out")
        return wanted, None
    if port_open(DEFAULT_WEB_PORT):
        new = free_port()
        return new, f"port {DEFAULT_WEB_PORT} is taken; the web UI uses {new} instead"
    return DEFAULT_WEB_PORT, None


def lan_addresses() -> list[str]:
    """Return this machine's IPv4 addresses other than loopback and link-local."""
    out: list[str] = []
    for addrs in psutil.net_if_addrs().values():
        for a in addrs:
            if a.family != socket.AF_INET:
                continue
            ip = ipaddress.ip_address(a.address)
            if not (ip.is_loopback or ip.is_link_local) and a.address not in out:
                out.append(a.address)
    return out


def lock_workdir(workdir: Path) -> IO[str] | None:
    """Take the work folder's lock; return None when another ``lightbox dev`` holds it."""
    f = (workdir / "dev.lock").open("a+", encoding="utf-8")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        return None
    f.truncate(0)
    f.write(f"{os.getpid()}\n")
    f.flush()
    return f


def banner(workdir: Path, live: Path, origin: str, broker: LocalBroker, device: str,
           web_port: int, lan: bool) -> str:
    """Return the lines printed once everything is started."""
    pw = broker.password_file("homeassistant")
    urls = [f"http://127.0.0.1:{web_port}/"]
    if lan:
        urls += [f"http://{ip}:{web_port}/" for ip in lan_addresses()]
    lines = [
        "",
        f"  LightBox dev is running (files in {workdir})",
        f"  settings:  using {live} (changes made in the UI are kept here);",
        f"             {origin}",
        f"  web UI:    {urls[0]}",
        *(f"             {u}  (LAN)" for u in urls[1:]),
    ]
    if lan:
        lines.append("  warning:   auth is off in dev: anyone on this network can change the panel")
    lines += [
        f"  broker:    127.0.0.1:{broker.port} (users and passwords in {broker.workdir};",
        f"             the engine logs in as its own user {device!r})",
        f"  try:       mosquitto_pub -p {broker.port} -u homeassistant -P \"$(cat {pw})\" "
        f"-t lightbox/{device}/cmd/animation -m plasma",
        f"  watch:     mosquitto_sub -p {broker.port} -u homeassistant -P \"$(cat {pw})\" "
        f"-t 'lightbox/#' -v",
        "  Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(lines)


Children = list[tuple[str, "subprocess.Popen[bytes]"]]


def supervise(children: Children, stopping: list[bool]) -> None:
    """Wait until Ctrl-C (``stopping[0]``) or a child exits."""
    while not stopping[0]:
        for name, child in children:
            if child.poll() is not None:
                print(f"lightbox dev: the {name} exited with {child.returncode}; stopping",
                      file=sys.stderr)
                stopping[0] = True
        time.sleep(0.2)


def stop_children(children: Children) -> None:
    """SIGTERM every child still running, then wait (SIGKILL after 10 s)."""
    for _, child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for _, child in children:
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(5)


def start_children(live: Path, workdir: Path, children: Children) -> None:
    """Start the engine and (when installed) the bridge on ``live``, adding them to ``children``."""
    env = {**os.environ, "STATE_DIRECTORY": str(workdir)}
    cmd = [sys.executable, "-m", "appliance"]
    children.append(("engine", subprocess.Popen(
        [*cmd, "engine", "--settings", str(live)], env=env)))
    if importlib.util.find_spec("bridge.cli") is not None:
        children.append(("bridge", subprocess.Popen(
            [*cmd, "bridge", "--settings", str(live)], env=env)))



def claim_workdir(args: argparse.Namespace) -> tuple[Path, IO[str]] | None:
    """Create and lock the work folder; None (after one sentence on stderr) if it cannot be."""
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="lightbox-dev-"))
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        lock = lock_workdir(workdir)
    except OSError as exc:
        print(f"lightbox dev: cannot use {workdir} as the work folder: "
              f"{exc.strerror or exc}; pick a folder you can write with --workdir DIR",
              file=sys.stderr)
        return None
    if lock is None:
        print(f"lightbox dev: {workdir} is in use by another lightbox dev; stop it first "
              "or pick another --workdir", file=sys.stderr)
        return None
    return workdir, lock


def seed_or_explain(live: Path, source: Path, reset: bool) -> Seeded | None:
    """seed(), printing the problems (and how to recover) instead of raising."""
    try:
        return seed(live, source, reset)
    except SettingsError as exc:
        for line in exc.lines():
            print(f"{exc.source}: {line}", file=sys.stderr)
        if exc.source == str(live):
            print(f"lightbox dev: fix {live}, or start with --reset to re-seed it from {source}",
                  file=sys.stderr)
        return None


def run(args: argparse.Namespace) -> int:
    """Run broker + engine + bridge until Ctrl-C."""
    source = settings_path(args)
    claimed = claim_workdir(args)
    if claimed is None:
        return 1
    workdir, lock = claimed
    live = workdir / "settings.json"
    start = seed_or_explain(live, source, args.reset)
    if start is None:
        return EX_CONFIG
    if not args.workdir:
        start.origin += "; a new temp folder each start: pass --workdir DIR to keep changes"
    try:
        web_port, note = choose_web_port(args.web_port)
    except OSError as exc:
        print(f"lightbox dev: {exc}", file=sys.stderr)
        return 1
    if note:
        print(note)
    broker = LocalBroker(workdir / "broker", port=args.port, devices=[start.device])
    try:
        broker.start()
    except BrokerError as exc:
        print(f"lightbox dev: {exc}", file=sys.stderr)
        return 1
    host = "0.0.0.0" if args.lan else "127.0.0.1"
    derived = derived_settings(start.base, broker, web_port, start.device, host)
    live.write_text(jsonsafe.dumps(derived, indent=2) + "\n", encoding="utf-8")
    stopping = [False]

    def stop(signum: int, frame: object) -> None:
        stopping[0] = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    children: Children = []
    try:
        start_children(live, workdir, children)
        print(banner(workdir, live, start.origin, broker, start.device, web_port, args.lan),
              flush=True)
        supervise(children, stopping)
    finally:
        stop_children(children)
        broker.stop()
        with contextlib.suppress(OSError):
            lock.close()
        print("lightbox dev: stopped")
    return 0
