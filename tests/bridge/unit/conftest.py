"""Bridge unit-test fixtures: the real Flask app on ``app.test_client()`` and a fake engine.

No broker, no engine process, no waitress: ``create_app`` gets a
``FakeEngineLink`` through its ``link=`` port, so what is tested here is the
bridge's own HTTP behaviour. What crosses the wire stays in tests/bridge/.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from appliance.settings import Settings
from bridge.app import create_app
from tests.bridge.unit.fake_link import FakeEngineLink

TOKEN = "unit-test-token-0123456789abcdef"


class Bridge:
    """One app, its fake engine and a test client."""

    def __init__(self, app: Flask, engine: FakeEngineLink, token: str | None) -> None:
        self.app = app
        self.engine = engine
        self.token = token
        self.http: FlaskClient = app.test_client()

    def auth(self) -> dict[str, str]:
        """The bearer header (empty without a token)."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def send(self, method: str, path: str, body: Any = None, *, auth: bool = True,
             headers: dict[str, str] | None = None, **kw: Any) -> Any:
        """Send a request (``body`` as JSON) with the token unless ``auth`` is False."""
        h = {**(self.auth() if auth else {}), **(headers or {})}
        if body is not None:
            kw["json"] = body
        return self.http.open(path, method=method, headers=h, **kw)

    def get(self, path: str, **kw: Any) -> Any:
        """GET a path."""
        return self.send("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        """POST JSON."""
        return self.send("POST", path, body, **kw)


def unit_settings(tmp_path: Path, **bridge: Any) -> Settings:
    """Settings for a unit-tested bridge: images in ``tmp_path``, generous rate limits."""
    cfg: dict[str, Any] = {"images_dir": str(tmp_path / "images"), "command_timeout_s": 0.5,
                           "rate_limit_reads": "1000 per second",
                           "rate_limit_writes": "1000 per second",
                           "rate_limit_uploads": "1000 per second",
                           "rate_limit_login": "1000 per second", **bridge}
    return Settings.model_validate({"device_id": "unit", "bridge": cfg})


@pytest.fixture
def make_bridge(tmp_path: Path) -> Callable[..., Bridge]:
    """Factory: ``make_bridge(token=..., online=..., **bridge_settings)``."""
    def make(token: str | None = None, online: bool = True, **bridge: Any) -> Bridge:
        settings = unit_settings(tmp_path, **bridge)
        engine = FakeEngineLink(settings, online=online)
        return Bridge(create_app(settings, link=engine, auth_token=token), engine, token)

    return make


@pytest.fixture
def bridge(make_bridge: Callable[..., Bridge]) -> Bridge:
    """An open bridge (no token) with an online fake engine."""
    return make_bridge()


@pytest.fixture
def secured(make_bridge: Callable[..., Bridge]) -> Bridge:
    """A bridge that needs the token for writes."""
    return make_bridge(token=TOKEN)


def error_of(r: Any) -> dict[str, Any]:
    """The ``error`` object of an error response."""
    body = r.get_json()
    assert isinstance(body, dict) and "error" in body, r.data[:300]
    err: dict[str, Any] = body["error"]
    return err
