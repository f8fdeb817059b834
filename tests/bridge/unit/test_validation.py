"""Request validation at the edge and engine errors mapped onto HTTP, without a broker.

Each refused request is refused before anything reaches the engine (the fake
records every request), with the status and the field of contract section 4.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.bridge.unit.conftest import Bridge, error_of

JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(("path", "body", "status", "code", "field"), [
    ("/api/animation", {"nmae": "plasma"}, 400, "unknown_field", "nmae"),
    ("/api/animation", {}, 422, "missing_field", "name"),
    ("/api/animation", {"name": ""}, 422, "out_of_range", "name"),
    ("/api/animation", {"name": "x" * 33}, 422, "out_of_range", "name"),
    ("/api/animation", {"name": "plasma", "params": [1]}, 422, "invalid_value", "params"),
    ("/api/brightness", {"brightness": 101}, 422, "out_of_range", "brightness"),
    ("/api/brightness", {"brightness": "50"}, 422, "invalid_value", "brightness"),
    ("/api/brightness", {"brightness": 50.0}, 422, "invalid_value", "brightness"),
    ("/api/brightness", {"brightness": True}, 422, "invalid_value", "brightness"),
    ("/api/brightness", 50, 400, "invalid_payload", None),
    ("/api/brightness", {"brightness": 5, "extra": 1}, 400, "unknown_field", "extra"),
    ("/api/power", {"state": "MAYBE"}, 422, "invalid_value", "state"),
    ("/api/power", "ON", 400, "invalid_payload", None),
    ("/api/identify", {"seconds": 61}, 422, "out_of_range", "seconds"),
    ("/api/identify", {"seconds": 0}, 422, "out_of_range", "seconds"),
    ("/api/params", [1, 2], 400, "invalid_payload", None),
    ("/api/login", {"token": ""}, 422, "out_of_range", "token"),
    ("/api/login", {}, 422, "missing_field", "token"),
])
def test_bad_bodies_are_refused_naming_the_field(bridge: Bridge, path: str, body: Any,
                                                 status: int, code: str,
                                                 field: str | None) -> None:
    r = bridge.post(path, body)
    assert r.status_code == status, r.data
    err = error_of(r)
    assert err["code"] == code, err
    assert err["message"]
    if field is None:
        assert "field" not in err
    else:
        assert err["field"] == field and err["details"]["field"] == field
    assert bridge.engine.requests == []


def test_bodies_must_be_json(bridge: Bridge) -> None:
    r = bridge.post("/api/brightness", data="brightness=50",
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415 and error_of(r)["code"] == "unsupported_media_type"
    r = bridge.post("/api/brightness", data="{not json", headers=JSON)
    assert r.status_code == 400 and error_of(r)["code"] == "bad_json"
    r = bridge.post("/api/brightness", data=b"\xff\xfe", headers=JSON)
    assert r.status_code == 400 and error_of(r)["code"] == "bad_json"
    big = '{"name":"plasma","params":{"x":"' + "a" * 70000 + '"}}'
    r = bridge.post("/api/animation", data=big, headers=JSON)
    assert r.status_code == 413 and error_of(r)["code"] == "too_large"
    assert bridge.engine.requests == []


@pytest.mark.parametrize(("raw", "field"), [
    ("[" * 1000 + "]" * 1000, None),
    ('{"brightness":' + "9" * 4301 + "}", "brightness"),
    ('{"brightness":NaN}', "brightness"),
    ('{"seconds":Infinity}', "seconds"),
    ('{"brightness":10,"brightness":90}', "brightness"),
    ('{"display":{"brightness":10,"bri\\u0067htness":90}}', "display.brightness"),
])
@pytest.mark.parametrize("path", ["/api/brightness", "/api/identify", "/api/login"])
def test_the_bounded_decoder_refuses_with_bad_json(bridge: Bridge, path: str, raw: str,
                                                   field: str | None) -> None:
    r = bridge.post(path, data=raw.encode(), headers=JSON)
    assert r.status_code == 400 and error_of(r)["code"] == "bad_json"
    assert error_of(r).get("field") == field
    assert bridge.engine.requests == []


def test_start_at_outside_the_window_is_out_of_range(bridge: Bridge) -> None:
    r = bridge.post("/api/animation", {"name": "plasma", "start_at": 1.0})
    assert r.status_code == 422 and error_of(r)["code"] == "out_of_range"
    assert error_of(r)["field"] == "start_at"
    assert bridge.engine.requests == []


def test_an_unknown_animation_is_the_engine_s_404(bridge: Bridge) -> None:
    before = bridge.get("/api/state").get_json()["version"]
    r = bridge.post("/api/animation", {"name": "no_such"})
    assert r.status_code == 404
    err = error_of(r)
    assert err["code"] == "unknown_animation" and err["field"] == "name"
    assert err["details"] == {"field": "name"}
    assert bridge.get("/api/state").get_json()["version"] == before


@pytest.mark.parametrize(("code", "status"), [
    ("invalid_param", 422), ("unknown_image", 404), ("superseded", 409), ("busy", 503),
    ("forbidden_field", 403), ("payload_too_large", 413), ("something_new", 502),
])
def test_engine_error_codes_map_onto_statuses(bridge: Bridge, code: str, status: int) -> None:
    bridge.engine.replies["params"] = {"ok": False, "error": {
        "code": code, "message": "from the engine", "field": "params.speed"}}
    r = bridge.post("/api/params", {"speed": 2})
    assert r.status_code == status
    err = error_of(r)
    assert err == {"code": code, "message": "from the engine", "field": "params.speed",
                   "details": {"field": "params.speed"}}
    assert (r.headers.get("Retry-After") == "1") == (status == 503)


def test_a_reply_without_an_error_object_is_a_502(bridge: Bridge) -> None:
    bridge.engine.replies["brightness"] = {"ok": False}
    r = bridge.post("/api/brightness", {"brightness": 20})
    assert r.status_code == 502 and error_of(r)["code"] == "engine_error"
