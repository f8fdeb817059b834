"""Auth, sessions, cross-site refusal and security headers of the bridge, without a broker."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bridge.security import COOKIE_NAME, HEADERS
from tests.bridge.unit.conftest import TOKEN, Bridge, error_of


def test_writes_need_the_token_and_reads_do_not(secured: Bridge) -> None:
    for path in ("/api/health", "/api/state", "/metrics", "/api/config"):
        assert secured.get(path, auth=False).status_code == 200, path
    r = secured.post("/api/brightness", {"brightness": 40}, auth=False)
    assert r.status_code == 401 and error_of(r)["code"] == "unauthorized"
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    r = secured.post("/api/brightness", {"brightness": 40}, auth=False,
                     headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401
    assert secured.send("PATCH", "/api/config", {"display": {"brightness": 4}},
                        auth=False).status_code == 401
    assert secured.send("DELETE", "/api/images/0123456789abcdef", auth=False).status_code == 401
    assert secured.engine.requests == []
    assert secured.post("/api/brightness", {"brightness": 40}).status_code == 200
    assert secured.engine.requests == [("brightness", {"brightness": 40})]


def test_the_ui_asks_for_a_login_first(secured: Bridge) -> None:
    r = secured.get("/", auth=False)
    assert r.status_code == 303 and r.headers["Location"].endswith("/login")
    assert secured.get("/login", auth=False).status_code == 200
    r = secured.get("/api/session", auth=False)
    assert r.get_json() == {"auth_required": True, "authenticated": False}


def test_login_sets_an_httponly_cookie_and_logout_revokes_it(secured: Bridge) -> None:
    r = secured.post("/api/login", {"token": "nope"}, auth=False)
    assert r.status_code == 401 and error_of(r)["field"] == "token"
    r = secured.post("/api/login", {"token": TOKEN}, auth=False)
    assert r.status_code == 200
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=") and TOKEN not in cookie
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert secured.get("/", auth=False).status_code == 200
    assert secured.get("/api/session", auth=False).get_json()["authenticated"] is True
    assert secured.post("/api/brightness", {"brightness": 45}, auth=False).status_code == 200
    r = secured.post("/api/brightness", {"brightness": 46}, auth=False,
                     headers={"Origin": "http://evil.example"})
    assert r.status_code == 403  # the cookie does not make a cross-site write possible
    assert secured.post("/api/logout", {}, auth=False).status_code == 200
    assert secured.post("/api/brightness", {"brightness": 47}, auth=False).status_code == 401


def test_without_a_token_login_is_not_needed(bridge: Bridge) -> None:
    assert bridge.get("/api/session").get_json() == {"auth_required": False,
                                                     "authenticated": True}
    r = bridge.post("/api/login", {"token": "anything"})
    assert r.get_json() == {"auth_required": False, "authenticated": True}


@pytest.mark.parametrize("origin", ["http://evil.example", "null"])
def test_cross_site_writes_are_refused(bridge: Bridge, origin: str) -> None:
    r = bridge.post("/api/brightness", {"brightness": 50}, headers={"Origin": origin})
    assert r.status_code == 403 and error_of(r)["code"] == "cross_site"
    r = bridge.post("/api/brightness", {"brightness": 50},
                    headers={"Referer": "http://evil.example/page"})
    assert r.status_code == 403
    assert bridge.engine.requests == []
    r = bridge.post("/api/brightness", {"brightness": 50}, headers={"Origin": "http://localhost"})
    assert r.status_code == 200


def test_other_host_names_are_refused(bridge: Bridge) -> None:
    r = bridge.get("/api/state", headers={"Host": "evil.example"})
    assert r.status_code in (400, 403, 421) and "error" in r.get_json()
    assert bridge.get("/api/state", headers={"Host": "127.0.0.1:5001"}).status_code == 200


@pytest.mark.parametrize("path", ["/", "/login", "/api/health", "/api/nope", "/static/app.js",
                                  "/metrics", "/api/openapi.json", "/api/state"])
def test_security_headers_on_every_response(bridge: Bridge, path: str) -> None:
    r = bridge.get(path)
    for name, value in HEADERS.items():
        assert r.headers.get(name) == value, (path, name)
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp


def test_security_headers_on_errors_from_the_engine_side(bridge: Bridge) -> None:
    bridge.engine.publish("status", "offline")
    r = bridge.post("/api/brightness", {"brightness": 5})
    assert r.status_code == 503
    assert r.headers["X-Frame-Options"] == "DENY"


def test_rate_limits_answer_429_with_retry_after(
        make_bridge: Callable[..., Bridge]) -> None:
    b = make_bridge(rate_limit_writes="60 per minute")  # the slowest the settings allow
    codes = [b.post("/api/brightness", {"brightness": 1 + i}).status_code for i in range(61)]
    assert codes == [200] * 60 + [429]
    r = b.post("/api/brightness", {"brightness": 30})
    assert error_of(r)["code"] == "rate_limited"
    assert int(r.headers["Retry-After"]) >= 1
    assert error_of(r)["details"]["retry_after_s"] == int(r.headers["Retry-After"])
    assert b.get("/api/state").status_code == 200  # reads have their own budget
