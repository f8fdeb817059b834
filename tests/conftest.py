"""Shared fixtures: a real mosquitto from deploy/mosquitto, MQTT probes, engine processes.

The broker is testcontainers' mosquitto where a Docker engine answers, else the
local `mosquitto` binary; either way it runs the project's own config and ACL.
With CI=true a missing broker FAILS the run; on a laptop it skips the tests
that need it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance.ops.broker import BrokerError, LocalBroker
from appliance.testing import LightboxProcess, MQTTProbe, engine_settings, wait_until
from appliance.testing import start_broker as start_local_broker

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
#: tests/arm64/ (the real-binding tier) is collected only when scripts/test-arm64 asks.
ARM64_TIER = os.environ.get("LIGHTBOX_ARM64") == "1"
HERE = Path(__file__).resolve().parent


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Leave tests/arm64/ out unless LIGHTBOX_ARM64=1 (it runs in an emulated arm64 root)."""
    if not ARM64_TIER and collection_path.resolve() == HERE / "arm64":
        return True
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect tests/arm64/ even when named on the command line, unless LIGHTBOX_ARM64=1."""
    if ARM64_TIER:
        return
    tier = HERE / "arm64"
    left_out = [i for i in items if tier in Path(str(i.path)).resolve().parents]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [i for i in items if i not in left_out]


def need(what: str, ok: bool, hint: str) -> None:
    """Fail in CI, skip elsewhere, when a required tool is missing."""
    if ok:
        return
    message = f"{what} is not available: {hint}"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def docker_available() -> bool:
    """True when a Docker engine answers (then testcontainers runs the broker)."""
    if not shutil.which("docker") and not os.environ.get("DOCKER_HOST"):
        return False
    try:
        import docker

        docker.from_env(timeout=2).ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    """A mosquitto with the project's config, auth and ACL on, for the whole session."""
    b = start_broker(tmp_path_factory.mktemp("broker"))
    yield b
    b.stop()


def start_broker(workdir: Path, persistent: bool = False) -> LocalBroker:
    """Start a broker for tests (testcontainers where Docker exists, else the binary)."""
    if docker_available():
        from tests.container_broker import ContainerBroker

        cb = ContainerBroker(workdir, persistent=persistent)
        cb.start()
        return cb
    need("mosquitto", shutil.which("mosquitto") is not None
         or Path("/usr/sbin/mosquitto").exists(),
         "install it with `apt-get install mosquitto mosquitto-clients` (scripts/test does)")
    try:
        # The harness's start retries on a fresh port: on a shared machine another
        # broker can take the chosen port before mosquitto binds it.
        return start_local_broker(workdir, persistent=persistent)
    except BrokerError as exc:
        need("mosquitto", False, str(exc))
        raise


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[LocalBroker]:
    """A broker of this test's own (for tests that kill and restart it)."""
    b = start_broker(tmp_path / "broker")
    yield b
    b.stop()


@pytest.fixture
def probe(broker: LocalBroker) -> Iterator[Callable[..., MQTTProbe]]:
    """Factory of connected MQTT clients (default user: homeassistant)."""
    made: list[MQTTProbe] = []

    def make(user: str = "homeassistant", b: LocalBroker | None = None, **kw: Any) -> MQTTProbe:
        p = MQTTProbe(b or broker, user, **kw).connect()
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


def clear_retained(b: LocalBroker, device_id: str) -> None:
    """Forget what an earlier engine of the same id left retained: a fresh box."""
    from appliance.ops.broker import port_open
    from appliance.wire import topics

    if not port_open(b.port):
        return  # a test that starts the engine before its broker: nothing retained yet
    p = MQTTProbe(b, b.add_device(device_id)).connect()
    try:
        base = topics.base("lightbox", device_id)
        for name in topics.RETAINED:
            p.publish(topics.state_topic(base, name), b"", retain=True)
        p.publish(topics.discovery("homeassistant", device_id), b"", retain=True)
    finally:
        p.close()


@pytest.fixture
def engine_factory(tmp_path: Path, broker: LocalBroker
                   ) -> Iterator[Callable[..., LightboxProcess]]:
    """Start `lightbox engine` subprocesses on the virtual display; stopped after the test."""
    procs: list[LightboxProcess] = []

    def make(device_id: str = "test", b: LocalBroker | None = None, wait_online: bool = True,
             extra_args: list[str] | None = None, env: dict[str, str] | None = None,
             **sections: Any) -> LightboxProcess:
        bb = b or broker
        clear_retained(bb, device_id)
        settings = engine_settings(bb, device_id, **sections)
        p = LightboxProcess("engine", tmp_path / f"engine-{device_id}-{len(procs)}", settings,
                            extra_args or [], env or {})
        p.start()
        procs.append(p)
        if wait_online:
            watcher = MQTTProbe(bb, "lightbox-monitor").connect()
            try:
                watcher.subscribe(f"lightbox/{device_id}/status", wait_s=0)
                watcher.wait_for(f"lightbox/{device_id}/status", lambda v: v == "online",
                                 timeout_s=20)
            except TimeoutError:
                raise AssertionError(f"engine did not come online:\n{p.log()[-3000:]}") from None
            finally:
                watcher.close()
        return p

    yield make
    for p in procs:
        p.stop()


__all__ = ["IN_CI", "need", "wait_until"]
