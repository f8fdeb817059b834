"""Deep JSON, odd numbers and duplicate keys over HTTP: a 400 ``bad_json``, never a 500.

Against the real bridge on waitress (with a token, so that the unauthenticated
``/api/login`` is tried too) and the real engine behind it: each body is refused
before anything is sent to the engine, and nothing LightBox serves contains a
non-finite number.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.bridge.conftest import Stack

pytestmark = pytest.mark.integration

TOKEN = "json-limits-token-0123456789"
DEEP = "[" * 1000 + "]" * 1000
HUGE = "9" * 4301
#: Every route that reads a JSON body: (method, path).
JSON_WRITES = [("POST", "/api/animation"), ("POST", "/api/brightness"), ("POST", "/api/power"),
               ("POST", "/api/params"), ("POST", "/api/identify"), ("PATCH", "/api/config"),
               ("POST", "/api/config/restore"), ("POST", "/api/login")]
#: (body, the field the error must name)
BAD_BODIES = [
    (DEEP, None),
    ('{"name":"plasma","params":' + DEEP + "}", None),
    ('{"a":' * 1000 + "1" + "}" * 1000, None),
    ("[" * 60_000, None),
    (HUGE, None),
    ('{"brightness":' + HUGE + "}", "brightness"),
    ('{"token":' + HUGE + "}", "token"),
    ('{"name":"plasma","start_at":1e309}', "start_at"),
    ('{"display":{"fps":-1e400}}', "display.fps"),
    ('{"brightness":NaN}', "brightness"),
    ('{"seconds":Infinity}', "seconds"),
    ("-Infinity", None),
    ('{"brightness":10,"brightness":90}', "brightness"),
    ('{"token":"a","token":"b"}', "token"),
    ('{"display":{"brightness":10,"bri\\u0067htness":90}}', "display.brightness"),
]


def strict(raw: bytes | str) -> Any:
    """A standard JSON parser: no NaN/Infinity."""
    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")
    return json.loads(raw, parse_constant=refuse)


@pytest.fixture(scope="module")
def secured(broker: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tests.bridge.conftest import start_stack, unique_id

    s = start_stack(broker, tmp_path_factory.mktemp("jsonlim"), unique_id("jsonlim"),
                    token=TOKEN, bridge={"rate_limit_login": "1000 per second"})
    yield s
    s.stop()


@pytest.mark.parametrize(("method", "path"), JSON_WRITES)
def test_every_json_write_refuses_bad_json_with_a_400(secured: Stack, method: str,
                                                      path: str) -> None:
    settings_before = secured.engine.settings_path.read_bytes()
    version = secured.get("/api/state", headers=secured.headers()).json()["version"]
    auth = path != "/api/login"  # the login is tried without credentials, as an attacker would
    for body, field in BAD_BODIES:
        r = secured.send(method, path, data=body.encode(), auth=auth,
                         headers={"Content-Type": "application/json"})
        assert r.status_code == 400, (path, body[:60], r.status_code, r.text[:300])
        err = strict(r.content)["error"]
        assert err["code"] == "bad_json" and err["message"], (path, body[:60], err)
        assert err.get("field") == field, (path, body[:60], err)
        assert "Traceback" not in r.text
    assert secured.get("/api/state", headers=secured.headers()).json()["version"] == version
    assert secured.engine.settings_path.read_bytes() == settings_before
    log = secured.bridge.log()
    assert "bridge_request_failed" not in log and "RecursionError" not in log


def test_start_at_out_of_window_is_out_of_range_over_http(secured: Stack) -> None:
    r = secured.post("/api/animation", {"name": "plasma", "start_at": 1e15})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "out_of_range"
    assert r.json()["error"]["field"] == "start_at"
