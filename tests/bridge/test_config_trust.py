"""Settings over HTTP are not a way in (contract section 5), against the real stack.

An authenticated web user cannot change a local-only setting: ``PATCH /api/config``
answers 403 ``forbidden_field`` before anything is sent to the engine, and the file on
disk stays byte for byte what it was. ``POST /api/config/restore`` keeps the local-only
values in force and says which under ``kept``. Strings with a grammar (rate limits,
origins, pixel mappers, ...) are refused with their dotted path. A PATCH that changes
nothing writes no backup and no history row.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from appliance.ops.broker import free_port
from bridge.errors import from_engine
from tests.bridge.conftest import Stack
from tests.support import MQTTProbe

pytestmark = pytest.mark.integration

TOKEN = "trust-token-0123456789"


def test_engine_forbidden_field_maps_to_403() -> None:
    err = from_engine({"code": "forbidden_field", "message": "no", "field": "mqtt.host"})
    assert err.status == 403 and err.body()["error"]["details"] == {"field": "mqtt.host"}


def test_patch_of_local_only_settings_is_403_and_sends_nothing(
        stack_factory: Callable[..., Stack], mqtt_watch: Callable[[str], MQTTProbe]) -> None:
    s = stack_factory("trust", token=TOKEN)
    p = mqtt_watch(s.base)
    before = s.engine.settings_path.read_bytes()
    attacks = [
        ({"bridge": {"auth_token_file": str(s.engine.settings_path)}}, "bridge.auth_token_file"),
        ({"mqtt": {"host": "127.0.0.2", "port": free_port()}}, "mqtt.host"),
        ({"display": {"drop_privileges": False}}, "display.drop_privileges"),
        ({"bridge": {"mqtt_password_file": "/etc/shadow"}}, "bridge.mqtt_password_file"),
        ({"mqtt": {"tls": None, "client_id": "x"}}, "mqtt.client_id"),
        ({"bridge": {"port": 80, "threads": 9}}, "bridge.port"),
    ]
    for body, field in attacks:
        r = s.send("PATCH", "/api/config", body)
        assert r.status_code == 403, (body, r.text)
        err = r.json()["error"]
        assert err["code"] == "forbidden_field" and err["details"]["field"] == field, err
        assert field in err["message"]
        assert s.engine.settings_path.read_bytes() == before
    r = s.send("PATCH", "/api/config", {"display": {"brightness": 41}})
    assert r.status_code == 200, r.text
    msgs = p.wait_for(f"{s.base}/cmd/config")  # the accepted one reached the broker ...
    assert msgs == {"display": {"brightness": 41}}
    # ... and it is the only cmd/config the bridge ever sent.
    assert [m.topic for m in p.messages].count(f"{s.base}/cmd/config") == 1


def test_restore_keeps_local_only_values_and_lists_them(
        stack_factory: Callable[..., Stack]) -> None:
    s = stack_factory("trustrs", token=TOKEN)
    before = json.loads(s.engine.settings_path.read_text())
    r = s.post("/api/config/restore", {})
    assert r.status_code == 200, r.text
    kept = set(r.json()["kept"])
    assert {"bridge.auth_token_file", "mqtt.password_file", "bridge.mqtt_password_file",
            "mqtt.port", "device_id"} <= kept, kept
    after = json.loads(s.engine.settings_path.read_text())
    assert after["bridge"]["auth_token_file"] == before["bridge"]["auth_token_file"]
    assert after["mqtt"]["password_file"] == before["mqtt"]["password_file"]
    assert after["mqtt"]["port"] == before["mqtt"]["port"]
    assert after["device_id"] == s.device_id
    # Auth is still on: a write without the token is refused.
    assert s.send("POST", "/api/brightness", {"brightness": 10}, auth=False).status_code == 401


@pytest.mark.parametrize(("body", "field"), [
    ({"bridge": {"rate_limit_login": "lots"}}, "bridge.rate_limit_login"),
    ({"bridge": {"rate_limit_writes": "0 per second"}}, "bridge.rate_limit_writes"),
    ({"bridge": {"rate_limit_writes": "10 per day"}}, "bridge.rate_limit_writes"),
    ({"display": {"pixel_mapper_config": "Rotate:45"}}, "display.pixel_mapper_config"),
    ({"display": {"panel_type": "FM9999"}}, "display.panel_type"),
])
def test_grammar_strings_are_refused_with_their_path(stack: Stack, body: dict[str, Any],
                                                     field: str) -> None:
    before = stack.engine.settings_path.read_bytes()
    r = stack.send("PATCH", "/api/config", body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field
    assert stack.engine.settings_path.read_bytes() == before


def test_a_patch_that_changes_nothing_writes_nothing(stack: Stack) -> None:
    current = stack.get("/api/config").json()["settings"]
    backups = stack.engine.workdir / "backups"
    count = len(list(backups.glob("settings-*.json")))
    history = len(stack.get("/api/config/history").json()["history"])
    before = stack.engine.settings_path.read_bytes()
    r = stack.send("PATCH", "/api/config", {"display": {"fps": current["display"]["fps"]}})
    assert r.status_code == 200 and r.json()["changes"] == [], r.text
    assert stack.engine.settings_path.read_bytes() == before
    assert len(list(backups.glob("settings-*.json"))) == count
    assert len(stack.get("/api/config/history").json()["history"]) == history
