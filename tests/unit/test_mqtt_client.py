"""The client factory and the link's own count of what paho holds (no broker needed)."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.mqtt.client import make_client
from appliance.mqtt.link import MQTTLink
from appliance.settings import MQTTSettings


class _Silent(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.recv(1024)  # the CONNECT packet; never answer


@pytest.fixture
def listener() -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Silent)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_every_socket_the_factory_client_opens_has_nagle_off(listener: int) -> None:
    client = make_client("t-nodelay")
    client.connect("127.0.0.1", listener, keepalive=5)
    try:
        sock = client.socket()
        assert isinstance(sock, socket.socket)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        client.disconnect()


def test_the_factory_reads_the_password_file(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\nignored\n", encoding="utf-8")
    client = make_client("t-creds", username="box", password_file=secret)
    assert client.username == "box"
    assert client.password == "s3cret"
    assert make_client("t-anon").username is None


def test_queue_depth_counts_publishes_until_paho_reports_them_sent() -> None:
    link = MQTTLink(MQTTSettings(), "d", lambda *a: None, lambda: None)
    link._track(1)
    link._track(2)
    assert link.queue_depth == 2
    link._on_publish(None, None, 1, 0, None)  # type: ignore[arg-type]
    assert link.queue_depth == 1
    # paho's thread may report a mid before publish() has returned it to us.
    link._on_publish(None, None, 3, 0, None)  # type: ignore[arg-type]
    link._track(3)
    assert link.queue_depth == 1
    assert link.status()["queue_depth"] == 1
