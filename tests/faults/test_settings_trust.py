"""Settings are not a way in (contract section 5): the attacks of issue 11 over MQTT.

Home Assistant's broker user may publish ``cmd/config``, so these run as
``homeassistant`` through the real mosquitto with the shipped ACL. A remote change of a
local-only setting is refused with ``forbidden_field`` naming the dotted path, and the
file on disk stays byte for byte what it was; a restore keeps the local-only values in
force and lists them under ``kept``; a change that changes nothing writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from appliance import settings as settings_mod
from appliance.ops.broker import free_port
from tests.faults.conftest import events, watch
from tests.support import LightboxProcess

Factory = Callable[..., LightboxProcess]


def _attacks(eng: LightboxProcess) -> list[tuple[str, Any, str]]:
    """(topic suffix, cmd/config payload, the dotted path it must be refused for)."""
    return [
        ("", {"bridge": {"auth_token_file": str(eng.settings_path)}}, "bridge.auth_token_file"),
        ("", {"mqtt": {"host": "127.0.0.2", "port": free_port()}}, "mqtt.host"),
        ("", {"display": {"drop_privileges": False}}, "display.drop_privileges"),
        ("", {"mqtt": {"password_file": "/etc/shadow"}}, "mqtt.password_file"),
        ("", {"mqtt": {"tls": {"ca_file": "/tmp/evil-ca.pem", "insecure": True}}}, "mqtt.tls"),
        ("", {"bridge": {"mqtt_username": None}}, "bridge.mqtt_username"),
        ("", {"device_id": "someone-else"}, "device_id"),
        ("", {"logging": {"dir": "/etc/cron.d"}}, "logging.dir"),
        ("", {"bridge": {"images_dir": "/etc"}}, "bridge.images_dir"),
        ("", {"mqtt": {"base_topic": "other"}}, "mqtt.base_topic"),
        ("", {"display": {"brightness": 12, "drop_priv_user": "root"}}, "display.drop_priv_user"),
        ("all", {"bridge": {"allowed_origins": ["http://evil.example"]}}, "bridge.allowed_origins"),
    ]


def _backups(eng: LightboxProcess) -> list[Path]:
    return sorted((eng.workdir / "backups").glob("settings-*.json"))


def _history(eng: LightboxProcess) -> list[dict[str, Any]]:
    log = eng.workdir / "backups" / "changes.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_home_assistant_cannot_change_local_only_settings(engine_factory: Factory,
                                                          broker: Any) -> None:
    dev = "trustmq"
    eng = engine_factory(dev)
    p = watch(broker, dev)  # user homeassistant, as Home Assistant's broker login
    try:
        before = eng.settings_path.read_bytes()
        for fleet, payload, field in _attacks(eng):
            topic = f"lightbox/{fleet or dev}/cmd/config"
            mark = p.mark()
            reply = p.request(topic, payload)
            assert reply["ok"] is False, (payload, reply)
            assert reply["error"]["code"] == "forbidden_field", reply
            assert reply["error"]["field"] == field, reply
            assert field in reply["error"]["message"]
            assert eng.settings_path.read_bytes() == before, payload
            ev = p.wait_for(f"lightbox/{dev}/events",
                            lambda e: e.get("event") == "config_rejected", since=mark)
            assert ev["code"] == "forbidden_field" and ev["field"] == field
        assert not _backups(eng) and not _history(eng)
        state = p.request(f"lightbox/{dev}/cmd/brightness", 44)["state"]
        assert state["brightness"] == 44 and eng.alive()
        # Naming a local-only key with the value in force is no change: allowed.
        current = json.loads(before)
        reply = p.request(f"lightbox/{dev}/cmd/config",
                          {"mqtt": {"host": current["mqtt"]["host"]},
                           "display": {"brightness": 21}})
        assert reply["ok"] is True, reply
        assert [c["path"] for c in reply["changes"]] == ["display.brightness"]
        after = json.loads(eng.settings_path.read_text())
        assert {k: after["mqtt"][k] for k in current["mqtt"]} == current["mqtt"]
    finally:
        p.close()


def test_a_restore_keeps_the_local_only_values_in_force(engine_factory: Factory, broker: Any,
                                                        tmp_path: Path) -> None:
    dev = "trustrs"
    token = tmp_path / "bridge.token"
    token.write_text("s3cret\n")
    eng = engine_factory(dev, bridge={"auth_token_file": str(token)})
    p = watch(broker, dev)
    try:
        before = settings_mod.dump(settings_mod.load(eng.settings_path))
        reply = p.request(f"lightbox/{dev}/cmd/config", {"replace": True})  # restore `{}`
        assert reply["ok"] is True, reply
        kept = set(reply["kept"])
        assert {"bridge.auth_token_file", "mqtt.password_file", "mqtt.username",
                "mqtt.port", "bridge.mqtt_username", "bridge.mqtt_password_file",
                "device_id"} <= kept, kept
        after = json.loads(eng.settings_path.read_text())
        assert after["bridge"]["auth_token_file"] == str(token)
        assert after["mqtt"]["password_file"] == before["mqtt"]["password_file"]
        for key in ("host", "port", "username", "base_topic", "tls", "client_id"):
            assert after["mqtt"][key] == before["mqtt"][key], key
        assert after["device_id"] == dev
        assert after["display"]["drop_privileges"] is True
        # What is not local-only did come from the backup (here: the defaults).
        assert after["health"]["interval_s"] == 10.0 != before["health"]["interval_s"]
        assert p.request(f"lightbox/{dev}/cmd/brightness", 33)["state"]["brightness"] == 33
        # A restore of the document in force keeps nothing and changes nothing.
        reply = p.request(f"lightbox/{dev}/cmd/config", {**after, "replace": True})
        assert reply["ok"] is True and reply["kept"] == [] and reply["changes"] == [], reply
    finally:
        p.close()


def test_cmd_reload_may_change_local_only_settings(engine_factory: Factory, broker: Any,
                                                   tmp_path: Path) -> None:
    dev = "trustrl"
    eng = engine_factory(dev)
    p = watch(broker, dev)
    try:
        data = json.loads(eng.settings_path.read_text())
        data["bridge"]["auth_token_file"] = str(tmp_path / "token")
        eng.settings_path.write_text(json.dumps(data))  # a person at the box
        reply = p.request(f"lightbox/{dev}/cmd/reload", b"")
        assert reply["ok"] is True, reply
        assert [c["path"] for c in reply["changes"]] == ["bridge.auth_token_file"]
    finally:
        p.close()


def test_a_change_that_changes_nothing_writes_no_backup_and_no_history(
        engine_factory: Factory, broker: Any) -> None:
    dev = "trustnoop"
    eng = engine_factory(dev)
    p = watch(broker, dev)
    try:
        level = settings_mod.load(eng.settings_path).display.brightness
        before = eng.settings_path.read_bytes()
        for payload in ({"display": {"brightness": level}}, {}, {"mqtt": {"groups": []}}):
            reply = p.request(f"lightbox/{dev}/cmd/config", payload)
            assert reply["ok"] is True and reply["changes"] == [], reply
        assert eng.settings_path.read_bytes() == before
        assert not _backups(eng) and not _history(eng)
        mark = p.mark()
        reply = p.request(f"lightbox/{dev}/cmd/config", {"display": {"brightness": level + 1}})
        assert reply["ok"] is True and len(reply["changes"]) == 1
        assert len(_backups(eng)) == 1 and len(_history(eng)) == 1
        for _ in range(3):
            assert p.request(f"lightbox/{dev}/cmd/config",
                             {"display": {"brightness": level + 1}})["changes"] == []
        assert len(_backups(eng)) == 1 and len(_history(eng)) == 1
        assert len(events(p, dev, "config_changed", since=mark)) == 1
    finally:
        p.close()
