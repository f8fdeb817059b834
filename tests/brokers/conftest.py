"""Fixtures of the other-broker tests: a throwaway ejabberd node, probes and engines on it.

These tests are not part of the default run (``pytest`` alone does not collect
them): ``scripts/test-brokers`` sets ``LIGHTBOX_TEST_BROKERS=1``, and then a
missing ejabberd FAILS the run instead of skipping it. Knows nothing of
mosquitto.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from appliance.ops.broker import LocalBroker
from appliance.testing import LightboxProcess, MQTTProbe, engine_settings
from tests.brokers.ejabberd import CONTROLLERS, MONITOR, Ejabberd, EjabberdError, available

ENABLED = os.environ.get("LIGHTBOX_TEST_BROKERS", "") == "1"
collect_ignore_glob = [] if ENABLED else ["test_*.py"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "ejabberd: runs against Debian's ejabberd (mod_mqtt); scripts/test-brokers")


def as_broker(node: Ejabberd) -> LocalBroker:
    """The node under the type the shared harness expects (it reads host, port, passwords)."""
    return cast(LocalBroker, node)


@pytest.fixture(scope="module")
def ejabberd() -> Iterator[Ejabberd]:
    """One ejabberd node for the module, with the controllers and the monitor registered."""
    if not available():
        pytest.fail("ejabberd is not installed (apt-get install ejabberd) or this is not root: "
                    "the other-broker tests cannot run", pytrace=False)
    node = Ejabberd()
    try:
        node.start()
        for user in (*CONTROLLERS, MONITOR):
            node.add_user(user)
    except EjabberdError as exc:
        node.cleanup()
        pytest.fail(str(exc), pytrace=False)
    yield node
    node.cleanup()


@pytest.fixture
def eprobe(ejabberd: Ejabberd) -> Iterator[Callable[..., MQTTProbe]]:
    """Factory of connected MQTT 5 clients on the node (default user: homeassistant@localhost)."""
    made: list[MQTTProbe] = []

    def make(user: str = "homeassistant", **kw: Any) -> MQTTProbe:
        p = MQTTProbe(as_broker(ejabberd), ejabberd.add_user(user), **kw).connect()
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


@pytest.fixture
def eengine(tmp_path: Path, ejabberd: Ejabberd) -> Iterator[Callable[..., LightboxProcess]]:
    """Start `lightbox engine` on the node, logged in as ``<device_id>@localhost``."""
    procs: list[LightboxProcess] = []

    def make(device_id: str = "eja", **sections: Any) -> LightboxProcess:
        settings = engine_settings(as_broker(ejabberd), device_id, **sections)
        p = LightboxProcess("engine", tmp_path / f"engine-{device_id}-{len(procs)}", settings)
        p.start()
        procs.append(p)
        return p

    yield make
    for p in procs:
        p.stop()
