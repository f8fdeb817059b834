"""Auth on (bearer token, login cookie) and rate limits, against the real bridge."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from tests.bridge import images_util
from tests.bridge.conftest import Stack

pytestmark = pytest.mark.integration

TOKEN = "s3cret-token-for-tests"


def test_writes_need_the_token_reads_do_not(stack_factory: Callable[..., Stack]) -> None:
    s = stack_factory("auth", token=TOKEN)
    assert s.get("/api/health").status_code == 200
    assert s.get("/api/state").status_code == 200
    assert s.get("/metrics").status_code == 200
    r = s.post("/api/brightness", {"brightness": 40}, auth=False)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    r = s.post("/api/brightness", {"brightness": 40}, auth=False,
               headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401
    r = s.send("PATCH", "/api/config", {"display": {"brightness": 40}}, auth=False)
    assert r.status_code == 401
    r = s.session.post(f"{s.url}/api/images", files={"file": ("a.png", images_util.png())},
                       timeout=10)
    assert r.status_code == 401
    assert s.post("/api/brightness", {"brightness": 40}).status_code == 200
    # The UI asks for a login first.
    r = requests.get(f"{s.url}/", allow_redirects=False, timeout=5)
    assert r.status_code == 303 and r.headers["Location"].endswith("/login")
    assert requests.get(f"{s.url}/login", timeout=5).status_code == 200
    assert s.get("/api/session").json() == {"auth_required": True, "authenticated": False}


def test_login_sets_an_httponly_cookie_that_allows_same_site_writes(
        stack_factory: Callable[..., Stack]) -> None:
    s = stack_factory("login", token=TOKEN)
    browser = requests.Session()
    r = browser.post(f"{s.url}/api/login", json={"token": "nope"}, timeout=5)
    assert r.status_code == 401 and r.json()["error"]["field"] == "token"
    r = browser.post(f"{s.url}/api/login", json={"token": TOKEN}, timeout=5)
    assert r.status_code == 200
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert TOKEN not in cookie
    assert browser.get(f"{s.url}/", timeout=5).status_code == 200
    assert browser.get(f"{s.url}/api/session", timeout=5).json()["authenticated"] is True
    r = browser.post(f"{s.url}/api/brightness", json={"brightness": 45},
                     headers={"Origin": s.url}, timeout=5)
    assert r.status_code == 200
    # The cookie does not make a cross-site write possible.
    r = browser.post(f"{s.url}/api/brightness", json={"brightness": 46},
                     headers={"Origin": "http://evil.example"}, timeout=5)
    assert r.status_code == 403
    browser.post(f"{s.url}/api/logout", json={}, timeout=5)
    r = browser.post(f"{s.url}/api/brightness", json={"brightness": 47}, timeout=5)
    assert r.status_code == 401


def test_rate_limits_answer_429_with_retry_after(stack_factory: Callable[..., Stack]) -> None:
    # The slowest limits settings accept (1 per second for writes and reads, 1 per minute
    # for uploads); a window opens at its first request, so none of this races the clock.
    s = stack_factory("rate", bridge={"rate_limit_writes": "60 per minute",
                                      "rate_limit_reads": "60 per minute",
                                      "rate_limit_uploads": "2 per minute"})
    codes = [s.post("/api/brightness", {"brightness": 30 + i}).status_code for i in range(62)]
    assert codes[:60] == [200] * 60 and codes[60:] == [429, 429], codes
    r = s.post("/api/brightness", {"brightness": 50})
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
    assert 0 < int(r.headers["Retry-After"]) <= 60
    # Reads have their own budget (health above used some).
    reads = [s.get("/api/state").status_code for _ in range(65)]
    assert 429 in reads and reads[0] == 200
    # Uploads have a stricter one of their own.
    ups = [s.session.post(f"{s.url}/api/images", files={"file": ("a.png", images_util.png())},
                          timeout=10).status_code for _ in range(3)]
    assert ups == [201, 201, 429], ups
