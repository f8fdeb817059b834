"""Bridge test fixtures: a real engine and a real `lightbox bridge` (waitress) per stack.

Each stack is a `lightbox engine` subprocess on the virtual display and a
`lightbox bridge` subprocess on a free port, both on the session's real
mosquitto, sharing one images folder. Device ids are unique per stack so
retained topics of one test never leak into another.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from appliance.ops.broker import LocalBroker, free_port
from appliance.testing import LightboxProcess, MQTTProbe, engine_settings, wait_until


@dataclass
class Stack:
    """A running engine + bridge pair."""

    device_id: str
    engine: LightboxProcess
    bridge: LightboxProcess
    port: int
    images_dir: Path
    token: str | None = None
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def url(self) -> str:
        """Base URL of the bridge."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base(self) -> str:
        """The device's MQTT base topic."""
        return f"lightbox/{self.device_id}"

    def headers(self, auth: bool = True, **extra: str) -> dict[str, str]:
        """Request headers, with the bearer token when the stack has one."""
        h = dict(extra)
        if auth and self.token:
            h["Authorization"] = f"Bearer {self.token}"
        return h

    def get(self, path: str, **kw: Any) -> requests.Response:
        """GET a path of the bridge."""
        kw.setdefault("timeout", 10)
        return self.session.get(self.url + path, **kw)

    def send(self, method: str, path: str, body: Any = None, auth: bool = True,
             **kw: Any) -> requests.Response:
        """Send JSON (with the token when there is one)."""
        kw.setdefault("timeout", 10)
        headers = {**self.headers(auth), **kw.pop("headers", {})}
        if body is not None:
            kw["json"] = body
        return self.session.request(method, self.url + path, headers=headers, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> requests.Response:
        """POST JSON."""
        return self.send("POST", path, body, **kw)

    def wait_healthy(self, timeout_s: float = 25.0) -> None:
        """Wait until /api/health says 200."""
        def ok() -> bool:
            try:
                return self.get("/api/health", timeout=2).status_code == 200
            except requests.RequestException:
                return False
        try:
            wait_until(ok, timeout_s, 0.1, "bridge health 200")
        except TimeoutError:
            raise AssertionError(
                f"bridge not healthy.\nBRIDGE:\n{self.bridge.log()[-3000:]}\n"
                f"ENGINE:\n{self.engine.log()[-2000:]}") from None

    def stop(self) -> None:
        """Stop both processes."""
        self.session.close()
        self.bridge.stop()
        self.engine.stop()


def start_stack(broker: LocalBroker, workdir: Path, device_id: str, *,
                token: str | None = None, bridge: dict[str, Any] | None = None,
                engine_sections: dict[str, Any] | None = None, wait: bool = True,
                env: dict[str, str] | None = None) -> Stack:
    """Start an engine and a bridge for ``device_id``; wait until health is 200."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    images = workdir / "images"
    bridge_cfg: dict[str, Any] = {
        "mqtt_username": "lightbox-bridge",
        "mqtt_password_file": str(broker.password_file("lightbox-bridge")),
        "host": "127.0.0.1", "port": port, "images_dir": str(images),
        "command_timeout_s": 2.0,
        "rate_limit_reads": "1000 per second", "rate_limit_writes": "500 per second",
        "rate_limit_uploads": "100 per minute",
    }
    if token is not None:
        token_file = workdir / "bridge.token"
        token_file.write_text(token + "\n")
        bridge_cfg["auth_token_file"] = str(token_file)
    bridge_cfg.update(bridge or {})
    settings = engine_settings(broker, device_id, bridge=bridge_cfg, **(engine_sections or {}))
    engine = LightboxProcess("engine", workdir / "engine", settings, [], env or {}).start()
    bridge_proc = LightboxProcess("bridge", workdir / "bridge", settings, [], env or {}).start()
    stack = Stack(device_id, engine, bridge_proc, port, images, token)
    if wait:
        try:
            stack.wait_healthy()
        except BaseException:
            stack.stop()
            raise
    return stack


def unique_id(prefix: str) -> str:
    """A device id no other test uses (retained topics live as long as the broker)."""
    return f"{prefix}-{secrets.token_hex(3)}"


@pytest.fixture(scope="module")
def stack(broker: LocalBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One engine + bridge without auth, shared by a test module."""
    s = start_stack(broker, tmp_path_factory.mktemp("stack"), unique_id("api"))
    yield s
    s.stop()


@pytest.fixture
def stack_factory(broker: LocalBroker, tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    """Start stacks of a test's own (stopped afterwards)."""
    made: list[Stack] = []

    def make(prefix: str = "b", **kw: Any) -> Stack:
        s = start_stack(broker, tmp_path / f"stack{len(made)}", unique_id(prefix), **kw)
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()


@pytest.fixture
def mqtt_watch(broker: LocalBroker) -> Iterator[Callable[[str], MQTTProbe]]:
    """An MQTT probe (Home Assistant's user) subscribed to a device's topics."""
    made: list[MQTTProbe] = []

    def make(base: str) -> MQTTProbe:
        p = MQTTProbe(broker, "homeassistant").connect()
        p.subscribe(f"{base}/#")
        made.append(p)
        return p

    yield make
    for p in made:
        with contextlib.suppress(Exception):
            p.close()


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """Return (result, seconds)."""
    t0 = time.monotonic()
    out = fn()
    return out, time.monotonic() - t0
