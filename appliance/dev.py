"""`lightbox dev`: a local mosquitto, the engine and the bridge, for a laptop or a Pi.

Starts mosquitto from the project's deploy/mosquitto config on a free (or
given) port with throwaway passwords, writes a derived settings file that
points the engine and the bridge at it, runs both as child processes, prints
where to look, and stops all three on Ctrl-C, leaving no process behind.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from appliance.broker import BrokerError, LocalBroker, free_port, port_open
from appliance.cli import settings_arg, settings_path
from appliance.settings import EX_CONFIG, SettingsError, default_device_id, load, merge


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    """Add --port and --settings."""
    settings_arg(parser)
    parser.add_argument("--port", type=int, default=0, help="broker port (default: a free one)")
    parser.add_argument("--http-port", type=int, default=0,
                        help="web UI port (default: bridge.port, or a free one if taken)")
    parser.add_argument("--workdir", default=None,
                        help="folder for the broker and logs (default: a temp folder)")


def derived_settings(base: dict[str, Any], broker: LocalBroker, http_port: int,
                     device_id: str) -> dict[str, Any]:
    """Return ``base`` pointed at the local broker, without auth on the bridge.

    The engine logs in as box ``device_id``'s own broker user (named after it).
    """
    user = broker.add_device(device_id)
    overrides = {
        "device_id": device_id,
        "mqtt": {"host": broker.host, "port": broker.port, "username": user,
                 "password_file": str(broker.password_file(user)), "tls": None},
        "bridge": {"host": "127.0.0.1" if base.get("bridge", {}).get("host") is None
                   else base["bridge"]["host"],
                   "port": http_port, "auth_token_file": None,
                   "mqtt_username": "lightbox-bridge",
                   "mqtt_password_file": str(broker.password_file("lightbox-bridge"))},
    }
    return merge(base, overrides)


def run(args: argparse.Namespace) -> int:
    """Run broker + engine + bridge until Ctrl-C."""
    path = settings_path(args)
    base: dict[str, Any] = {}
    device = default_device_id()
    if path.exists():
        try:
            device = load(path).device_id
        except SettingsError as exc:
            for line in exc.lines():
                print(f"{path}: {line}", file=sys.stderr)
            return EX_CONFIG
        base = json.loads(path.read_text(encoding="utf-8"))
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="lightbox-dev-"))
    broker = LocalBroker(workdir / "broker", port=args.port, devices=[device])
    try:
        broker.start()
    except BrokerError as exc:
        print(f"lightbox dev: {exc}", file=sys.stderr)
        return 1
    http_port = args.http_port or int(base.get("bridge", {}).get("port", 5001))
    if port_open(http_port):
        new = free_port()
        print(f"port {http_port} is taken; the web UI uses {new} instead")
        http_port = new
    derived = derived_settings(base, broker, http_port, device)
    dev_settings = workdir / "settings.json"
    dev_settings.write_text(json.dumps(derived, indent=2), encoding="utf-8")
    env = {**os.environ, "STATE_DIRECTORY": str(workdir)}
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        cmd = [sys.executable, "-m", "appliance"]
        children.append(("engine", subprocess.Popen(
            [*cmd, "engine", "--settings", str(dev_settings)], env=env)))
        if importlib.util.find_spec("bridge.cli") is not None:
            children.append(("bridge", subprocess.Popen(
                [*cmd, "bridge", "--settings", str(dev_settings)], env=env)))
        pw = broker.password_file("homeassistant")
        print(
            "\n"
            f"  LightBox dev is running (files in {workdir})\n"
            f"  web UI:    http://127.0.0.1:{http_port}/\n"
            f"  broker:    127.0.0.1:{broker.port} (users and passwords in {broker.workdir};\n"
            f"             the engine logs in as its own user {device!r})\n"
            f"  try:       mosquitto_pub -p {broker.port} -u homeassistant -P \"$(cat {pw})\" "
            f"-t lightbox/{device}/cmd/animation -m plasma\n"
            f"  watch:     mosquitto_sub -p {broker.port} -u homeassistant -P \"$(cat {pw})\" "
            f"-t 'lightbox/#' -v\n"
            "  Ctrl-C stops everything.\n",
            flush=True,
        )
        while not stopping:
            for name, child in children:
                if child.poll() is not None:
                    print(f"lightbox dev: the {name} exited with {child.returncode}; stopping",
                          file=sys.stderr)
                    stopping = True
            time.sleep(0.2)
    finally:
        for _, child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for _, child in children:
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(5)
        broker.stop()
        print("lightbox dev: stopped")
    return 0
