"""The broker in a container (testcontainers), for machines with a Docker engine.

Runs the same rendered deploy/mosquitto config and ACL as the local binary,
inside eclipse-mosquitto:2, with port 1883 published on a free loopback port.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

from appliance.ops.broker import (
    USERS,
    LocalBroker,
    deploy_dir,
    login_works,
    port_open,
    render_config,
)


class ContainerBroker(LocalBroker):
    """A LocalBroker whose process is a container."""

    image = "eclipse-mosquitto:2"
    container: Any = None

    def prepare(self) -> Path:
        """Write the config for the container's paths; passwords are hashed inside it."""
        for user in (*USERS, *self.devices):
            pw = self.passwords.setdefault(user, secrets.token_urlsafe(18))
            self.password_file(user).write_text(pw + "\n")
        src = (deploy_dir() / "lightbox.conf").read_text()
        conf = render_config(src, 1883, Path("/mosquitto/config/passwd"),
                             Path("/mosquitto/config/acl"), None, None)
        conf = conf.replace("listener 1883 127.0.0.1", "listener 1883 0.0.0.0")
        conf = conf.replace("user root\n", "")
        (self.workdir / "mosquitto.conf").write_text(conf)
        (self.workdir / "acl").write_text((deploy_dir() / "acl").read_text())
        (self.workdir / "passwd").write_text(
            "".join(f"{u}:{p}\n" for u, p in self.passwords.items()))
        return self.workdir / "mosquitto.conf"

    def add_device(self, device_id: str, timeout_s: float = 10.0) -> str:
        """Give box ``device_id`` its own user; a running container reloads its passwords."""
        if device_id in self.devices:
            return device_id
        self.devices.append(device_id)
        pw = self.passwords.setdefault(device_id, secrets.token_urlsafe(18))
        self.password_file(device_id).write_text(pw + "\n")
        if self.container is not None:
            self.container.exec(["sh", "-c", f"mosquitto_passwd -b /mosquitto/config/passwd "
                                 f"'{device_id}' '{pw}' && kill -HUP 1"])
            deadline = time.monotonic() + timeout_s
            while not login_works(self.host, self.port, device_id, pw):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the broker container did not load user {device_id}")
                time.sleep(0.1)
        return device_id

    def start(self, timeout_s: float = 30.0) -> None:
        """Start the container and wait for the port."""
        from testcontainers.core.container import DockerContainer

        self.prepare()
        c = DockerContainer(self.image)
        c.with_volume_mapping(str(self.workdir), "/mosquitto/config", "rw")
        c.with_bind_ports(1883, self.port)
        # Hash the plain-text password file inside the container, then run the broker.
        c.with_command("sh -c 'mosquitto_passwd -U /mosquitto/config/passwd && "
                       "exec mosquitto -c /mosquitto/config/mosquitto.conf'")
        c.start()
        self.container = c
        deadline = time.monotonic() + timeout_s
        while not port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.1)

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the container."""
        if self.container is not None:
            self.container.stop()
            self.container = None

    def kill(self) -> None:
        """Kill the container."""
        if self.container is not None:
            self.container.get_wrapped_container().kill()
            self.container.stop()
            self.container = None

    def restart(self) -> None:
        """Start a fresh container on the same port."""
        self.stop()
        self.start()
