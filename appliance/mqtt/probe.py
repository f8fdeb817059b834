"""The broker probe of `lightbox diagnose`: connect once with the settings, then leave.

Uses its own client id, no Last Will and publishes nothing, so a running
engine is not disturbed. Knows nothing of the engine, topics or the checks
that read its answer.
"""

from __future__ import annotations

import random
import ssl
import threading
from typing import Any

from appliance.mqtt.client import Client, make_client
from appliance.settings import MQTTSettings, read_secret


def probe_broker(cfg: MQTTSettings, timeout_s: float = 5.0) -> tuple[bool, str]:
    """Connect once with the configured credentials and TLS; return (ok, one sentence)."""
    where = f"{cfg.host}:{cfg.port}"
    password = None
    if cfg.username:
        if cfg.password_file is not None and not cfg.password_file.exists():
            return False, f"mqtt.password_file {cfg.password_file} does not exist"
        try:
            password = read_secret(cfg.password_file)
        except (OSError, UnicodeDecodeError, IndexError) as exc:
            return False, f"cannot read mqtt.password_file {cfg.password_file}: {exc}"
    try:
        client = make_client(f"lightbox-diagnose-{random.randrange(16**6):06x}",
                             username=cfg.username or None, password=password, tls=cfg.tls)
    except (OSError, ssl.SSLError, ValueError) as exc:
        return False, f"TLS files unusable: {exc}"
    done = threading.Event()
    outcome: list[Any] = []

    def on_connect(c: Client, userdata: Any, flags: Any, reason_code: Any,
                   properties: Any) -> None:
        outcome.append(reason_code)
        done.set()

    client.on_connect = on_connect
    try:
        client.connect(cfg.host, cfg.port, keepalive=max(5, int(timeout_s) * 2))
    except (OSError, ssl.SSLError, ValueError) as exc:
        return False, f"cannot reach {where}: {exc}"
    client.loop_start()
    try:
        if not done.wait(timeout_s):
            return False, f"{where} accepted TCP but sent no CONNACK within {timeout_s:g} s"
        rc = outcome[0]
        if rc.is_failure:
            return False, f"{where} refused the connection: {rc}"
        who = cfg.username or "anonymous"
        return True, f"connected to {where} as {who}" + (" over TLS" if cfg.tls else "")
    finally:
        client.disconnect()
        client.loop_stop()
