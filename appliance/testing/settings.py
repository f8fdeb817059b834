"""Settings of an engine (and its bridge) on a test broker, with the virtual display.

Owns the shared part (the device's own broker user, the bridge's user, JSON
logs) and the two flavours: ``engine_settings`` for tests (a small panel, fast
reconnects and health) and ``bench_engine_settings`` for benchmarks (the
geometry and frame rate under test, default reconnects and health). Knows
nothing of processes or MQTT clients.
"""

from __future__ import annotations

from typing import Any

from appliance.ops.broker import LocalBroker

#: The benchmarks' device id.
BENCH_DEVICE_ID = "bench"


def merge_sections(base: dict[str, Any], sections: dict[str, Any]) -> dict[str, Any]:
    """Return ``base`` with each section merged in (one level deep; other values replace)."""
    out = dict(base)
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def broker_settings(broker: LocalBroker, device_id: str) -> dict[str, Any]:
    """Return the ``mqtt`` and ``bridge`` sections of box ``device_id`` on ``broker``.

    The engine logs in as its own broker user, named after ``device_id`` (the
    ACL's per-box patterns), which this adds to the broker when it is new.
    """
    user = broker.add_device(device_id)
    return {
        "mqtt": {"host": broker.host, "port": broker.port, "username": user,
                 "password_file": str(broker.password_file(user))},
        "bridge": {"mqtt_username": "lightbox-bridge",
                   "mqtt_password_file": str(broker.password_file("lightbox-bridge"))},
    }


def engine_settings(broker: LocalBroker, device_id: str = "test", **sections: Any
                    ) -> dict[str, Any]:
    """Return a test engine's settings on ``broker``: virtual 64x32 panel, fast health."""
    conn = broker_settings(broker, device_id)
    base: dict[str, Any] = {
        "device_id": device_id,
        "display": {"driver": "virtual", "rows": 32, "cols": 64},
        "mqtt": {**conn["mqtt"], "reconnect_min_s": 1, "reconnect_max_s": 2},
        "bridge": conn["bridge"],
        "health": {"interval_s": 2, "metrics_interval_s": 1},
        "logging": {"format": "json"},
    }
    return merge_sections(base, sections)


def bench_engine_settings(broker: LocalBroker, width: int = 64, height: int = 64, fps: int = 30,
                          metrics_interval_s: float = 1.0, **extra: Any) -> dict[str, Any]:
    """Return a benchmark engine's settings on ``broker`` with the virtual display."""
    conn = broker_settings(broker, BENCH_DEVICE_ID)
    base: dict[str, Any] = {
        "device_id": BENCH_DEVICE_ID,
        "display": {"driver": "virtual", "rows": height, "cols": width, "fps": fps},
        "animation": {"default": "plasma", "boot": "default"},
        "mqtt": conn["mqtt"],
        "bridge": conn["bridge"],
        "health": {"metrics_interval_s": metrics_interval_s},
        "logging": {"format": "json", "level": "info"},
    }
    return merge_sections(base, extra)
