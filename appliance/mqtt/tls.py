"""The TLS files of ``mqtt.tls``, checked before anything connects.

Knows no paho (``appliance.mqtt.client`` re-exports it): the engine checks its TLS
files at start-up, before its first frame, and loads paho only when the link starts.
"""

from __future__ import annotations

from pathlib import Path

from appliance.settings import TLSSettings


def tls_problems(tls: TLSSettings) -> list[str]:
    """Return one ``mqtt.tls.<key>: ...`` line per TLS file that cannot be read."""
    problems = []
    for key in ("ca_file", "cert_file", "key_file"):
        path = getattr(tls, key)
        if path is None:
            continue
        try:
            with Path(path).open("rb"):
                pass
        except OSError as exc:
            problems.append(f"mqtt.tls.{key}: cannot read {path}: {exc.strerror or exc}")
    return problems
