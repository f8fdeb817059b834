"""The broker floor's far end: a paho client in its own process that echoes ping to pong.

``python -m benchmarks.echo HOST PORT USER PASSWORD_FILE PING PONG`` subscribes
to PING (qos 1) and republishes every payload on PONG (qos 0, retained, like the
engine's ``state``), so a round trip through it has the same hops as a command
to the engine and its new state: client -> broker -> process -> broker -> client.

With ``--sink`` it only counts what arrives on PING and, on the payload
``END``, publishes the count on PONG: the floor of the flood section (how
fast a bare paho MQTT 5 subscriber in its own process drains a flood).
"""

from __future__ import annotations

import signal
import socket
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion


def main(argv: list[str]) -> int:
    """Echo until SIGTERM."""
    sink = "--sink" in argv
    host, port, user, pw_file, ping, pong = [a for a in argv if a != "--sink"]
    count = [0]
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"echo-{uuid.uuid4().hex[:8]}",
                         protocol=MQTTProtocolVersion.MQTTv5)
    client.username_pw_set(user, Path(pw_file).read_text().strip())
    ready = threading.Event()

    def on_connect(c: mqtt.Client, u: Any, f: Any, rc: Any, p: Any) -> None:
        sock = c.socket()
        if isinstance(sock, socket.socket):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c.subscribe(ping, qos=1)

    def on_subscribe(*a: Any) -> None:
        ready.set()
        print("ready", flush=True)

    def on_message(c: mqtt.Client, u: Any, msg: mqtt.MQTTMessage) -> None:
        if not sink:
            c.publish(pong, msg.payload, qos=0, retain=True)
            return
        count[0] += 1
        if msg.payload == b"END":
            c.publish(pong, str(count[0]), qos=1)
            count[0] = 0

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    client.connect(host, int(port), keepalive=60)
    client.loop_start()
    stop.wait()
    client.publish(pong, b"", qos=1, retain=True)  # leave no retained message behind
    client.disconnect()
    client.loop_stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
