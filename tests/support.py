"""Test support: the shared harness of ``appliance.testing``, under the names tests use.

Used by the integration, fault and browser tests. Nothing here is a fake:
``MQTTProbe`` is a paho MQTT 5 client logged in as one of the broker's users,
and ``LightboxProcess`` runs the installed `lightbox` command. Benchmarks use
the same package (``benchmarks/harness.py``).
"""

from __future__ import annotations

from appliance.ops.broker import free_port, port_open
from appliance.testing import (
    LIGHTBOX,
    LightboxProcess,
    MQTTProbe,
    decode,
    engine_settings,
    wait_until,
)


def http_port_ready(port: int) -> bool:
    """True when something listens on the port."""
    return port_open(port)


__all__ = ["LIGHTBOX", "LightboxProcess", "MQTTProbe", "decode", "engine_settings", "free_port",
           "http_port_ready", "wait_until"]
