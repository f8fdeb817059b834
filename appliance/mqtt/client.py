"""The MQTT client factory: every paho client LightBox makes comes from here.

Owns what all of them share: MQTT 5 with paho's callback API v2, the client
id, credentials (a password given, or read from the password file), TLS from
the settings, and Nagle off on every (re)connected socket. Re-exports the paho
names other packages need (``Client``, ``MQTTMessage``, ``Properties``...), so
nothing outside ``appliance.mqtt`` imports paho. Knows nothing of topics,
commands, the engine or the bridge.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from pathlib import Path
from typing import Any

from paho.mqtt.client import MQTT_ERR_NO_CONN, MQTT_ERR_SUCCESS, Client, MQTTMessage, error_string
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from appliance.mqtt.tls import tls_problems
from appliance.settings import TLSSettings, read_secret

__all__ = [
    "MQTT_ERR_NO_CONN",
    "MQTT_ERR_SUCCESS",
    "Client",
    "MQTTMessage",
    "PacketTypes",
    "Properties",
    "SubscribeOptions",
    "apply_tls",
    "error_string",
    "make_client",
    "publish_properties",
    "set_nodelay",
    "tls_problems",
]


def apply_tls(client: Client, tls: TLSSettings) -> None:
    """Set up TLS on a paho client from the settings."""
    client.tls_set(
        ca_certs=str(tls.ca_file) if tls.ca_file else None,
        certfile=str(tls.cert_file) if tls.cert_file else None,
        keyfile=str(tls.key_file) if tls.key_file else None,
        cert_reqs=ssl.CERT_REQUIRED,
    )
    client.tls_insecure_set(tls.insecure)


def set_nodelay(sock: Any) -> None:
    """Turn Nagle's algorithm off on a connected socket (a no-op on anything else).

    A command's PUBACK and the new state go out back to back; with Nagle on the
    second waits for the broker's delayed ACK (~40 ms on Linux).
    """
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _on_socket_open(client: Client, userdata: Any, sock: Any) -> None:
    set_nodelay(sock)


def make_client(
    client_id: str,
    *,
    username: str | None = None,
    password: str | None = None,
    password_file: Path | None = None,
    tls: TLSSettings | None = None,
) -> Client:
    """Build an MQTT 5 paho client (callback API v2) with credentials, TLS and no Nagle.

    ``password_file`` is read (``read_secret``) when no ``password`` is given; its
    errors (OSError, UnicodeDecodeError) reach the caller, and so do a TLS file's.
    Constructs only: connecting is the caller's ``connect``/``connect_async``.
    """
    client = Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                    protocol=MQTTProtocolVersion.MQTTv5)
    if username is not None:
        if password is None and password_file is not None:
            password = read_secret(password_file)
        client.username_pw_set(username, password)
    if tls is not None:
        apply_tls(client, tls)
    # Every socket paho opens (the first connect and each reconnect) gets NODELAY.
    client.on_socket_open = _on_socket_open
    return client


def publish_properties(*, response_topic: str | None = None,
                       correlation: bytes | None = None) -> Properties:
    """Return PUBLISH properties with a Response Topic and/or Correlation Data."""
    props = Properties(PacketTypes.PUBLISH)
    if response_topic is not None:
        props.ResponseTopic = response_topic
    if correlation is not None:
        props.CorrelationData = correlation
    return props
