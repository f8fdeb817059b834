"""Config over HTTP: redaction, PATCH validation, local-only refusal, backup and restore."""

from __future__ import annotations

import json

from tests.bridge.unit.conftest import Bridge, error_of


def _with_secret(bridge: Bridge) -> None:
    cfg = bridge.engine.value("config")
    cfg["settings"]["mqtt"]["password"] = "hunter2"
    bridge.engine.publish("config", cfg)


def test_config_hides_secrets_but_not_secret_file_paths(bridge: Bridge) -> None:
    _with_secret(bridge)
    r = bridge.get("/api/config")
    assert r.status_code == 200 and b"hunter2" not in r.data
    mqtt = r.get_json()["settings"]["mqtt"]
    assert mqtt["password"] == "***"
    assert "password_file" in mqtt and mqtt["password_file"] != "***"


def test_a_valid_patch_is_sent_as_given(bridge: Bridge) -> None:
    r = bridge.send("PATCH", "/api/config", {"display": {"brightness": 40}})
    assert r.status_code == 200, r.data
    assert bridge.engine.requests == [("config", {"display": {"brightness": 40}})]
    assert bridge.get("/api/config").get_json()["settings"]["display"]["brightness"] == 40
    history = bridge.get("/api/config/history").get_json()["history"]
    assert history[-1]["source"] == "http"


def test_a_local_only_change_is_403_forbidden_field(bridge: Bridge) -> None:
    r = bridge.send("PATCH", "/api/config", {"mqtt": {"host": "evil.example"}})
    assert r.status_code == 403
    err = error_of(r)
    assert err["code"] == "forbidden_field" and err["field"] == "mqtt.host"
    assert err["details"] == {"field": "mqtt.host", "fields": ["mqtt.host"]}
    assert bridge.engine.requests == []


def test_an_invalid_setting_is_422_with_the_problems(bridge: Bridge) -> None:
    r = bridge.send("PATCH", "/api/config", {"display": {"fps": -1}})
    assert r.status_code == 422
    err = error_of(r)
    assert err["code"] == "invalid_settings" and err["field"] == "display.fps"
    assert err["details"]["problems"][0]["field"] == "display.fps"
    r = bridge.send("PATCH", "/api/config", {"nope": 1})
    assert r.status_code == 422 and error_of(r)["field"] == "nope"
    assert bridge.engine.requests == []


def test_patch_refuses_replace_and_non_objects(bridge: Bridge) -> None:
    r = bridge.send("PATCH", "/api/config", {"replace": True})
    assert r.status_code == 400 and error_of(r)["field"] == "replace"
    r = bridge.send("PATCH", "/api/config", [1])
    assert r.status_code == 400 and error_of(r)["code"] == "invalid_payload"
    assert bridge.engine.requests == []


def test_backup_is_an_attachment_without_secrets(bridge: Bridge) -> None:
    _with_secret(bridge)
    r = bridge.get("/api/config/backup")
    assert r.status_code == 200 and b"hunter2" not in r.data
    assert r.headers["Content-Disposition"].startswith('attachment; filename="lightbox-unit-')
    assert json.loads(r.data)["device_id"] == "unit"


def test_restore_validates_before_anything_is_sent(bridge: Bridge) -> None:
    r = bridge.post("/api/config/restore", [1])
    assert r.status_code == 422 and error_of(r)["field"] == "(root)"
    r = bridge.post("/api/config/restore", {"display": {"fps": "fast"}})
    assert r.status_code == 422 and error_of(r)["code"] == "invalid_settings"
    assert bridge.engine.requests == []
    backup = json.loads(bridge.get("/api/config/backup").data)
    r = bridge.post("/api/config/restore", backup)
    assert r.status_code == 200, r.data
    action, body = bridge.engine.requests[-1]
    assert action == "config" and body["replace"] is True


def test_the_schema_is_served(bridge: Bridge) -> None:
    r = bridge.get("/api/config/schema")
    assert r.status_code == 200 and isinstance(r.get_json(), dict)
