"""Presets, playlists, schedule and live mode over HTTP on ``app.test_client()`` (fake engine).

What is asserted is the bridge's own behaviour: each route sends exactly one
``cmd/preset``/``cmd/playlist``/``cmd/schedule``/``cmd/live`` with the body the
contract defines, names from URLs are checked before anything is sent, errors
have the house shape and name the field, writes need the token.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.bridge.unit.conftest import Bridge, error_of


def test_save_current_look_apply_and_delete_a_preset(bridge: Bridge) -> None:
    assert bridge.get("/api/presets").get_json() == []
    r = bridge.post("/api/presets", {"save": "Cozy evening"})
    assert r.status_code == 200, r.data
    presets = bridge.get("/api/presets").get_json()
    assert presets == [{"name": "Cozy evening", "animation": "plasma",
                        "params": {"speed": 1.0}, "brightness": 80}]
    bridge.post("/api/animation", {"name": "fire"})
    r = bridge.post("/api/presets/Cozy%20evening/apply")
    assert r.status_code == 200, r.data
    assert r.get_json()["state"]["preset"] == "Cozy evening"
    assert r.get_json()["state"]["effect"] == "plasma"
    assert bridge.send("DELETE", "/api/presets/Cozy%20evening").status_code == 200
    assert bridge.get("/api/presets").get_json() == []
    assert bridge.engine.requests == [
        ("preset", {"save": "Cozy evening"}), ("animation", {"name": "fire", "params": {}}),
        ("preset", {"apply": "Cozy evening"}), ("preset", {"delete": "Cozy evening"})]


def test_a_preset_of_a_given_look_is_sent_as_given(bridge: Bridge) -> None:
    body = {"save": "Red", "animation": "solid", "params": {"color": "#ff0000"},
            "brightness": 30}
    assert bridge.post("/api/presets", body).status_code == 200
    assert bridge.engine.requests == [("preset", body)]


@pytest.mark.parametrize(("path", "method"), [
    ("/api/presets/%20lead/apply", "POST"), ("/api/presets/trail%20", "DELETE"),
    ("/api/presets/" + "x" * 41 + "/apply", "POST"), ("/api/presets/caf%C3%A9", "DELETE"),
    ("/api/playlists/a%2Bb/apply", "POST"), ("/api/playlists/dot.name", "DELETE"),
])
def test_bad_names_in_urls_are_refused_before_anything_is_sent(
        bridge: Bridge, path: str, method: str) -> None:
    r = bridge.send(method, path)
    assert r.status_code == 422, r.data
    err = error_of(r)
    assert err["code"] == "invalid_value" and err["field"] == "name"
    assert bridge.engine.requests == []


@pytest.mark.parametrize(("body", "status", "field"), [
    ({}, 422, "save"),
    ({"save": "bad/name"}, 422, "save"),
    ({"save": "ok", "apply": "ok"}, 400, "apply"),
    ({"save": "ok", "brightness": 101}, 422, "brightness"),
    ({"save": "ok", "brightness": 40}, 422, "brightness"),  # a brightness needs an animation
    ({"save": "ok", "params": {"speed": 2}}, 422, None),   # params need an animation
    ({"save": "ok", "transaction": "t"}, 400, "transaction"),
])
def test_bad_preset_bodies_name_the_field_and_send_nothing(
        bridge: Bridge, body: dict[str, Any], status: int, field: str | None) -> None:
    r = bridge.post("/api/presets", body)
    assert r.status_code == status, r.data
    if field is not None:
        assert error_of(r)["field"] == field
    assert bridge.engine.requests == []


def test_unknown_preset_is_404_with_the_engines_error(bridge: Bridge) -> None:
    r = bridge.post("/api/presets/Nope/apply")
    assert r.status_code == 404 and error_of(r)["code"] == "unknown_preset"
    assert error_of(r)["field"] == "apply"


def test_playlist_save_play_step_stop_delete(bridge: Bridge) -> None:
    bridge.post("/api/presets", {"save": "A"})
    definition = {"save": "Evening mix", "items": [
        {"preset": "A", "duration_s": 60},
        {"animation": "fire", "params": {"speed": 2}, "duration_s": 30}],
        "shuffle": False, "repeat": True, "transition_s": 2}
    r = bridge.post("/api/playlists", definition)
    assert r.status_code == 200, r.data
    saved = bridge.get("/api/playlists").get_json()
    assert [p["name"] for p in saved] == ["Evening mix"]
    r = bridge.post("/api/playlists/Evening%20mix/apply")
    assert r.status_code == 200 and r.get_json()["state"]["playlist"]["index"] == 0
    assert bridge.post("/api/playlist/next").get_json()["state"]["playlist"]["index"] == 1
    assert bridge.post("/api/playlist/previous").get_json()["state"]["playlist"]["index"] == 0
    assert bridge.post("/api/playlist/stop").get_json()["state"]["playlist"] is None
    assert bridge.send("DELETE", "/api/playlists/Evening%20mix").status_code == 200
    sent = bridge.engine.requests[1:]
    assert sent[0] == ("playlist", {"save": "Evening mix", "items": [
        {"preset": "A", "duration_s": 60.0},
        {"animation": "fire", "params": {"speed": 2}, "duration_s": 30.0}],
        "shuffle": False, "repeat": True, "transition_s": 2.0})
    assert sent[1:] == [("playlist", {"play": "Evening mix"}), ("playlist", "next"),
                        ("playlist", "previous"), ("playlist", "stop"),
                        ("playlist", {"delete": "Evening mix"})]


@pytest.mark.parametrize(("body", "field"), [
    ({"save": "P"}, "items"),
    ({"save": "P", "items": []}, "items"),
    ({"save": "P", "items": [{"duration_s": 5}]}, None),
    ({"save": "P", "items": [{"preset": "A", "duration_s": 0}]}, "items.0.duration_s"),
    ({"save": "P", "items": [{"preset": "A", "animation": "fire", "duration_s": 5}]}, None),
    ({"save": "P", "items": [{"preset": "A", "duration_s": 5}], "transition_s": 61},
     "transition_s"),
    ({"save": "P", "items": [{"preset": "A", "duration_s": 5}], "shuffle": "yes"}, "shuffle"),
])
def test_bad_playlists_name_the_field_and_send_nothing(
        bridge: Bridge, body: dict[str, Any], field: str | None) -> None:
    r = bridge.post("/api/playlists", body)
    assert r.status_code == 422, r.data
    if field is not None:
        assert error_of(r)["field"] == field
    assert bridge.engine.requests == []


def test_schedule_reads_the_retained_document_and_pauses(bridge: Bridge) -> None:
    doc = bridge.get("/api/schedule").get_json()
    assert doc["enabled"] is True and len(doc["week"]) == 7
    r = bridge.post("/api/schedule", {"enabled": False})
    assert r.status_code == 200, r.data
    assert bridge.get("/api/schedule").get_json()["enabled"] is False
    r = bridge.post("/api/schedule", {"enabled": "no"})
    assert r.status_code == 422 and error_of(r)["field"] == "enabled"
    assert bridge.engine.requests == [("schedule", {"enabled": False})]


def test_live_mode(bridge: Bridge) -> None:
    r = bridge.post("/api/live", {"mode": "ignore"})
    assert r.status_code == 200 and r.get_json()["state"]["live"]["mode"] == "ignore"
    r = bridge.post("/api/live", {"mode": "off"})
    assert r.status_code == 422 and error_of(r)["field"] == "mode"
    assert bridge.engine.requests == [("live", {"mode": "ignore"})]


def test_documents_never_published_are_503(bridge: Bridge) -> None:
    for name in ("presets", "playlists", "schedule"):
        bridge.engine.forget(name)
        r = bridge.get(f"/api/{name}")
        assert r.status_code == 503 and error_of(r)["code"] == "no_data"


@pytest.mark.parametrize(("path", "body"), [
    ("/api/presets", {"save": "A"}), ("/api/presets/A/apply", None),
    ("/api/playlist/next", None), ("/api/schedule", {"enabled": False}),
    ("/api/live", {"mode": "auto"}),
])
def test_writes_need_the_token(secured: Bridge, path: str, body: Any) -> None:
    r = secured.post(path, body, auth=False)
    assert r.status_code == 401, r.data
    assert secured.engine.requests == []
    assert secured.get("/api/presets", auth=False).status_code == 200  # reads stay open


def test_an_offline_engine_is_503_for_commands(make_bridge: Any) -> None:
    b = make_bridge(online=False)
    r = b.post("/api/presets/A/apply")
    assert r.status_code == 503 and error_of(r)["code"] == "engine_offline"


def _with_looks(bridge: Bridge) -> None:
    bridge.post("/api/presets", {"save": "Red", "animation": "solid",
                                 "params": {"color": "#ff0000"}, "brightness": 30})
    bridge.post("/api/presets", {"save": "Warm"})
    bridge.post("/api/playlists", {"save": "Mix", "items": [
        {"preset": "Red", "duration_s": 10}, {"animation": "fire", "duration_s": 5}]})
    bridge.engine.requests.clear()


def test_backup_carries_the_presets_and_playlists(bridge: Bridge) -> None:
    _with_looks(bridge)
    backup = json.loads(bridge.get("/api/config/backup").data)
    assert backup["device_id"] == "unit"  # still the settings file at the top level
    assert [p["name"] for p in backup["presets"]] == ["Red", "Warm"]
    assert backup["playlists"][0]["name"] == "Mix"


def test_restore_replays_looks_after_the_settings_and_keeps_others(bridge: Bridge) -> None:
    _with_looks(bridge)
    backup = json.loads(bridge.get("/api/config/backup").data)
    bridge.post("/api/presets", {"save": "Only here"})
    bridge.engine.requests.clear()
    r = bridge.post("/api/config/restore", backup)
    assert r.status_code == 200, r.data
    looks = r.get_json()["looks"]
    assert looks == {"saved": {"presets": ["Red", "Warm"], "playlists": ["Mix"]},
                     "failed": []}
    actions = [(a, b.get("save") if isinstance(b, dict) else b)
               for a, b in bridge.engine.requests]
    assert actions == [("config", None), ("preset", "Red"), ("preset", "Warm"),
                       ("playlist", "Mix")]
    assert "presets" not in bridge.engine.requests[0][1]  # settings only to cmd/config
    assert bridge.engine.requests[1][1] == {"save": "Red", "animation": "solid",
                                            "params": {"color": "#ff0000"}, "brightness": 30}
    # A restore adds and overwrites; a preset the backup does not name stays.
    assert "Only here" in [p["name"] for p in bridge.get("/api/presets").get_json()]


@pytest.mark.parametrize(("looks", "field"), [
    ({"presets": {"name": "x"}}, "presets"),
    ({"presets": [{"name": "bad/name", "animation": "fire"}]}, "presets.0.name"),
    ({"presets": [{"name": "A", "animation": "nope"}]}, "presets.0.animation"),
    ({"presets": [{"name": "A", "animation": "fire", "colour": 1}]}, "presets.0.colour"),
    ({"presets": [{"name": "A", "animation": "fire", "brightness": 0}]},
     "presets.0.brightness"),
    ({"presets": [{"name": "A", "animation": "fire"}, {"name": "A", "animation": "clock"}]},
     "presets.1.name"),
    ({"playlists": [{"name": "P", "items": []}]}, "playlists.0.items"),
    ({"playlists": [{"name": "P", "items": [{"animation": "nope", "duration_s": 5}]}]},
     "playlists.0.items.0.animation"),
])
def test_a_bad_look_in_a_backup_refuses_the_restore_before_anything_is_sent(
        bridge: Bridge, looks: dict[str, Any], field: str) -> None:
    backup = json.loads(bridge.get("/api/config/backup").data)
    r = bridge.post("/api/config/restore", {**backup, **looks})
    assert r.status_code == 422, r.data
    assert error_of(r)["code"] == "invalid_settings" and error_of(r)["field"] == field
    assert bridge.engine.requests == []


def test_bad_settings_refuse_the_restore_and_no_look_is_sent(bridge: Bridge) -> None:
    backup = json.loads(bridge.get("/api/config/backup").data)
    backup["display"]["fps"] = "fast"
    backup["presets"] = [{"name": "A", "animation": "fire", "params": {}, "brightness": None}]
    r = bridge.post("/api/config/restore", backup)
    assert r.status_code == 422 and bridge.engine.requests == []


def test_a_save_the_engine_refuses_is_reported_and_the_rest_go_on(bridge: Bridge) -> None:
    backup = json.loads(bridge.get("/api/config/backup").data)
    backup["presets"] = [{"name": "A", "animation": "fire", "params": {}, "brightness": None},
                         {"name": "B", "animation": "clock", "params": {}, "brightness": 20}]
    full = {"ok": False, "error": {"code": "limit_reached", "message": "at most 100 presets"}}
    bridge.engine.replies["preset"] = lambda body: full if body["save"] == "A" else {
        "ok": True, "state": bridge.engine.value("state")}
    r = bridge.post("/api/config/restore", backup)
    assert r.status_code == 200, r.data
    looks = r.get_json()["looks"]
    assert looks["saved"]["presets"] == ["B"]
    assert looks["failed"] == [{"kind": "presets", "name": "A", "error": full["error"]}]


@pytest.mark.parametrize("code", ["not_playing", "playlist_unplayable"])
def test_a_playlist_that_cannot_step_is_a_409(bridge: Bridge, code: str) -> None:
    bridge.engine.replies["playlist"] = {"ok": False, "error": {
        "code": code, "message": "no playlist is playing", "field": "playlist"}}
    r = bridge.post("/api/playlist/next")
    assert r.status_code == 409 and error_of(r)["code"] == code
