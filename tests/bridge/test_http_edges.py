"""The bridge's HTTP edges, against the real bridge on waitress with raw sockets where needed.

waitress's own error answers are JSON with the security headers; the Host
allow-list refuses names that are not the box's (DNS rebinding); Retry-After
counts down the breached window; login sessions are random, revocable and
Secure behind a trusted TLS proxy (and only then).
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from appliance.ops.broker import LocalBroker
from bridge.security import COOKIE_NAME, HEADERS
from tests.bridge.conftest import Stack, start_stack, unique_id

pytestmark = pytest.mark.integration

TOKEN = "edge-token-for-tests"
LOGIN_LIMIT = 5


@pytest.fixture(scope="module")
def edge(broker: LocalBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A bridge with a token, an allow-list, a trusted proxy on loopback, a small login limit."""
    s = start_stack(broker, tmp_path_factory.mktemp("edge"), unique_id("edge"), token=TOKEN,
                    bridge={"allowed_hosts": ["lightbox.lan", "*.home.arpa"],
                            "trusted_proxy": "127.0.0.1",
                            "rate_limit_login": f"{LOGIN_LIMIT} per minute"})
    yield s
    s.stop()


def raw(port: int, request: bytes, piece: int = 0) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read the answer to the end; return (status, headers, body).

    With ``piece``, send in pieces of that size with short pauses and stop once
    the server answers, so it has read everything sent when it hangs up (else
    the kernel resets the connection and may drop the answer).
    """
    with socket.create_connection(("127.0.0.1", port), timeout=15) as c:
        if piece:
            for i in range(0, len(request), piece):
                c.sendall(request[i:i + piece])
                if select.select([c], [], [], 0.05)[0]:
                    break
        else:
            c.sendall(request)
        data = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := c.recv(65536):
                data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip()
               for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def assert_house_error(status: int, headers: dict[str, str], body: bytes, want: int,
                       code: str) -> None:
    assert status == want, body
    assert headers["content-type"].startswith("application/json"), headers
    for name, value in HEADERS.items():
        assert headers.get(name.lower()) == value, name
    err = json.loads(body)["error"]
    assert err["code"] == code and err["message"], err


# ---------------------------------------------------------------- waitress's own errors
def test_a_bad_request_line_gets_a_json_error_with_security_headers(edge: Stack) -> None:
    status, headers, body = raw(edge.port, b"GET /\x00 nonsense\r\n\r\n")
    assert_house_error(status, headers, body, 400, "bad_request")


def test_oversized_headers_get_a_json_431(edge: Stack) -> None:
    big = b"X-Big: " + b"a" * (64 * 1024) + b"\r\n"
    status, headers, body = raw(edge.port, b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                + big + b"\r\n", piece=2048)
    assert_house_error(status, headers, body, 431, "headers_too_large")


def test_a_too_large_body_gets_a_json_413(edge: Stack) -> None:
    status, headers, body = raw(edge.port, b"POST /api/images HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                b"Content-Length: 10000000000\r\n\r\n")
    assert_house_error(status, headers, body, 413, "too_large")


# ---------------------------------------------------------------- Host allow-list
@pytest.mark.parametrize("host", ["127.0.0.1:5001", "192.168.1.50:5001", "[::1]:5001",
                                  "localhost:5001", "lightbox.lan", "kitchen.home.arpa",
                                  "LightBox.LAN.:5001", "app.localhost"])
def test_ip_literals_and_the_box_names_are_served(edge: Stack, host: str) -> None:
    r = requests.get(f"{edge.url}/api/health", headers={"Host": host}, timeout=10)
    assert r.status_code == 200, r.text


def test_the_box_own_host_name_and_mdns_name_are_served(edge: Stack) -> None:
    name = socket.gethostname().split(".")[0]
    for host in (name, f"{name}.local:5001"):
        r = requests.get(f"{edge.url}/api/health", headers={"Host": host}, timeout=10)
        assert r.status_code == 200, (host, r.text)


@pytest.mark.parametrize("host", ["attacker.example", "lightbox.lan.attacker.example",
                                  "home.arpa", "1.2.3.4.nip.io", "evil@127.0.0.1"])
def test_other_host_names_are_refused(edge: Stack, host: str) -> None:
    for path in ("/api/health", "/api/state", "/"):
        r = requests.get(f"{edge.url}{path}", headers={"Host": host}, timeout=10)
        assert r.status_code == 400, (path, r.status_code)
        err = r.json()["error"]
        assert err["code"] == "host_not_allowed" and "bridge.allowed_hosts" in err["message"]
        assert r.headers["X-Frame-Options"] == "DENY"
    r = edge.post("/api/brightness", {"brightness": 30}, headers={"Host": host})
    assert r.status_code == 400 and r.json()["error"]["code"] == "host_not_allowed"


# ---------------------------------------------------------------- Retry-After
def test_retry_after_counts_down_the_login_window(edge: Stack) -> None:
    # The trusted proxy names the client, so this test has a rate-limit bucket of its own.
    client = {"X-Forwarded-For": "10.9.9.9"}
    first = time.monotonic()
    for _ in range(LOGIN_LIMIT):
        r = requests.post(f"{edge.url}/api/login", json={"token": "wrong"}, headers=client,
                          timeout=10)
        assert r.status_code == 401
    r = requests.post(f"{edge.url}/api/login", json={"token": "wrong"}, headers=client,
                      timeout=10)
    elapsed = time.monotonic() - first
    assert r.status_code == 429, r.text
    retry = int(r.headers["Retry-After"])
    assert r.json()["error"]["details"]["retry_after_s"] == retry
    # The window is a minute long and started at the first attempt.
    assert 60 - elapsed - 2 <= retry <= 60, (retry, elapsed)
    # Another client is not limited.
    r = requests.post(f"{edge.url}/api/login", json={"token": "wrong"},
                      headers={"X-Forwarded-For": "10.9.9.8"}, timeout=10)
    assert r.status_code == 401


# ---------------------------------------------------------------- sessions
def login(s: Stack, **headers: str) -> requests.Session:
    browser = requests.Session()
    r = browser.post(f"{s.url}/api/login", json={"token": TOKEN}, headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    return browser


def cookie_of(browser: requests.Session) -> str:
    value = browser.cookies.get(COOKIE_NAME)
    assert value
    return str(value)


def write_with(s: Stack, cookie: str) -> int:
    r = requests.post(f"{s.url}/api/brightness", json={"brightness": 33},
                      cookies={COOKIE_NAME: cookie}, timeout=10)
    return r.status_code


def test_each_login_is_its_own_session_and_logout_revokes_it(edge: Stack) -> None:
    a, b = login(edge, **{"X-Forwarded-For": "10.1.1.1"}), login(
        edge, **{"X-Forwarded-For": "10.1.1.2"})
    ca, cb = cookie_of(a), cookie_of(b)
    assert ca != cb and TOKEN not in ca
    assert write_with(edge, ca) == 200 and write_with(edge, cb) == 200
    r = a.post(f"{edge.url}/api/logout", json={}, timeout=10)
    assert r.status_code == 200
    # The old cookie value is dead even if a client kept it; the other session lives on.
    assert write_with(edge, ca) == 401
    assert write_with(edge, cb) == 200
    assert write_with(edge, "made-up-session-id") == 401


def test_the_cookie_is_secure_behind_a_trusted_tls_proxy(edge: Stack) -> None:
    r = requests.post(f"{edge.url}/api/login", json={"token": TOKEN},
                      headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.2.2.2"},
                      timeout=10)
    assert r.status_code == 200
    assert "Secure" in r.headers["Set-Cookie"], r.headers["Set-Cookie"]
    r = requests.post(f"{edge.url}/api/login", json={"token": TOKEN},
                      headers={"X-Forwarded-For": "10.2.2.3"}, timeout=10)
    assert "Secure" not in r.headers["Set-Cookie"]


def test_forwarded_headers_are_ignored_without_a_trusted_proxy(
        stack_factory: Callable[..., Stack]) -> None:
    s = stack_factory("noproxy", token=TOKEN)
    r = requests.post(f"{s.url}/api/login", json={"token": TOKEN},
                      headers={"X-Forwarded-Proto": "https"}, timeout=10)
    assert r.status_code == 200
    assert "Secure" not in r.headers["Set-Cookie"]


def test_a_new_token_revokes_every_session(stack_factory: Callable[..., Stack]) -> None:
    s = stack_factory("revoke", token=TOKEN)
    cookie = cookie_of(login(s))
    assert write_with(s, cookie) == 200
    token_file = Path(s.bridge.settings["bridge"]["auth_token_file"])
    token_file.write_text("a-brand-new-token\n")
    s.bridge.stop()
    s.bridge.start()
    s.wait_healthy()
    assert write_with(s, cookie) == 401
