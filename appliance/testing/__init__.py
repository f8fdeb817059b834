"""The harness tests and benchmarks share: a real broker, real `lightbox` processes, MQTT clients.

Nothing here is a fake. ``processes`` runs the installed ``lightbox`` command
(``LightboxProcess``), ``mqtt`` holds paho clients logged in as one of the
broker's users (``MQTTProbe`` records every message for tests, ``Client``
timestamps them for benchmarks), ``settings`` writes the settings of an engine
on a broker, ``broker`` starts a throwaway mosquitto. Imported by ``tests/``
and ``benchmarks/``, never by the engine or the bridge.
"""

from __future__ import annotations

from appliance.testing.broker import start_broker
from appliance.testing.mqtt import BrokerClient, Client, MQTTProbe, decode, no_delay
from appliance.testing.processes import LIGHTBOX, LightboxProcess, child_env
from appliance.testing.settings import bench_engine_settings, engine_settings
from appliance.testing.waiting import wait_until

__all__ = ["LIGHTBOX", "BrokerClient", "Client", "LightboxProcess", "MQTTProbe",
           "bench_engine_settings", "child_env", "decode", "engine_settings", "no_delay",
           "start_broker", "wait_until"]
