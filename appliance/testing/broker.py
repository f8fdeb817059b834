"""A throwaway mosquitto with the project's own config, ACL and generated passwords.

Owns starting one on a fresh port, retried when another process takes the port
first (a shared machine). Knows nothing of engines or clients.
"""

from __future__ import annotations

import time
from pathlib import Path

from appliance.ops.broker import BrokerError, LocalBroker


def start_broker(workdir: Path, extra_config: str = "", tries: int = 5,
                 persistent: bool = False, stock: bool = False) -> LocalBroker:
    """Start a mosquitto with the project's config (plus ``extra_config`` lines).

    ``stock``: a stock mosquitto's config instead (auth and ACL only; Nagle on).

    Retried on a fresh port: another broker may take the port between choosing
    it and binding it. Raises BrokerError after ``tries`` attempts.
    """
    for attempt in range(tries):
        broker = LocalBroker(workdir / f"try{attempt}" if attempt else workdir,
                             persistent=persistent, stock=stock)
        conf = broker.prepare()
        if extra_config:
            conf.write_text(conf.read_text() + extra_config.rstrip() + "\n")
        try:
            broker.start()
            return broker
        except BrokerError:
            if attempt == tries - 1:
                raise
            time.sleep(1.0)
    raise AssertionError("unreachable")
