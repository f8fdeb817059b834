"""Configuration safety: broken settings at start-up, live changes, backups, kills mid-write.

Start-up: a corrupt, truncated or wrongly-typed settings.json exits 78 with one
line per bad field when no backup exists, and runs from the newest valid
backup (health config degraded, config_rejected event) when one does.
Live: cmd/config, cmd/reload and SIGHUP validate completely first; a rejected
change (or one whose apply fails and is rolled back) leaves the file
byte-identical. Writes are atomic: SIGKILL at random points of 200 saves never
leaves a partial file.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from appliance import settings as settings_mod
from appliance.settings import SettingsError, SettingsStore
from tests.faults.conftest import Evil, events, log_events, report_figure, watch
from tests.support import LightboxProcess, engine_settings, wait_until

Factory = Callable[..., LightboxProcess]

BROKEN = {
    "corrupt": b"{\"device_id\": \"x\", \"display\": {\x00\x01 nonsense",
    "truncated": None,  # a valid file cut in half, filled in by the test
    "wrongly_typed": json.dumps({"device_id": "Not An Id!", "display": {
        "fps": "fast", "brightness": 300}, "mqtt": {"port": "1883x"}}).encode(),
}
EXPECTED_FIELDS = {
    "corrupt": ["(file)"],
    "truncated": ["(file)"],
    "wrongly_typed": ["device_id", "display.fps", "display.brightness", "mqtt.port"],
}


def _broken_bytes(kind: str, good: dict[str, Any]) -> bytes:
    raw = BROKEN[kind]
    if raw is None:
        full = settings_mod.to_json_bytes(good)
        raw = full[: len(full) // 2]
    return raw


@pytest.mark.parametrize("kind", ["corrupt", "truncated", "wrongly_typed"])
def test_broken_settings_without_backup_exit_78_naming_each_field(
        tmp_path: Path, broker: Any, kind: str) -> None:
    good = engine_settings(broker, "cfg78")
    proc = LightboxProcess("engine", tmp_path / "eng", good)
    proc.workdir.mkdir(parents=True)
    proc.settings_path.write_bytes(_broken_bytes(kind, good))
    proc.start()
    assert proc.process is not None
    code = proc.process.wait(60)
    assert code == 78, proc.log()[-2000:]
    problems = [e["problem"] for e in log_events(proc, "settings_invalid")]
    for field in EXPECTED_FIELDS[kind]:
        assert any(p.startswith(f"{field}:") for p in problems), (field, problems)
    assert log_events(proc, "settings_unusable")[0]["exit_code"] == 78


@pytest.mark.parametrize("kind", ["corrupt", "truncated", "wrongly_typed"])
def test_broken_settings_with_a_backup_run_degraded_from_it(
        tmp_path: Path, broker: Any, kind: str) -> None:
    dev = f"cfgbk-{kind[:5]}"
    good = engine_settings(broker, dev, display={"driver": "virtual", "rows": 32, "cols": 64,
                                                 "brightness": 37})
    proc = LightboxProcess("engine", tmp_path / "eng", good)
    backups = proc.workdir / "backups"
    backups.mkdir(parents=True)
    (backups / "settings-20260101T000000000000Z.json").write_bytes(b"{broken backup")
    (backups / "settings-20250101T000000000000Z.json").write_bytes(
        settings_mod.to_json_bytes(good))
    broken = _broken_bytes(kind, good)
    proc.settings_path.write_bytes(broken)
    p = watch(broker, dev)  # subscribed before the engine connects: events are not retained
    try:
        proc.start()
        ev = p.wait_for(f"lightbox/{dev}/events", lambda e: e.get("event") == "config_rejected",
                        timeout_s=20)
        assert ev["using"] == "backup:settings-20250101T000000000000Z.json"
        health = p.wait_for(f"lightbox/{dev}/health",
                            lambda h: h["checks"]["config"]["status"] == "degraded",
                            timeout_s=10)
        assert any("running from backup" in r for r in health["reasons"])
        state = p.wait_for(f"lightbox/{dev}/state", timeout_s=10)
        assert state["brightness"] == 37  # the backup's settings are the ones in force
        assert proc.alive()
        assert proc.settings_path.read_bytes() == broken  # the evidence stays for a person
    finally:
        p.close()
        proc.stop()


def test_rejected_live_changes_leave_the_file_byte_identical(
        engine_factory: Factory, broker: Any, evil: Evil) -> None:
    dev = "cfglive"
    eng = engine_factory(dev, env=evil.env)
    p = watch(broker, dev)
    try:
        before = eng.settings_path.read_bytes()
        state0 = p.wait_for(f"lightbox/{dev}/state")
        for bad, field in ((b'{"display": {"fps": "fast"}}', "display.fps"),
                           (b'{"display": {"brigthness": 50}}', "display.brigthness"),
                           (b'{"mqtt": {"port": 0}}', "mqtt.port"),
                           (b'{"animation": {"fallback": "nope"}}', "animation.fallback"),
                           (b'{"display": ', None), (b"[1, 2]", None)):
            reply = p.request(f"lightbox/{dev}/cmd/config", bad)
            assert reply["ok"] is False, (bad, reply)
            if field:
                assert reply["error"]["field"] == field, reply
            if field == "mqtt.port":  # local-only: refused before it is even validated
                assert reply["error"]["code"] == "forbidden_field", reply
            assert eng.settings_path.read_bytes() == before, bad
        # Valid to the model, but applying it fails: rolled back, file untouched.
        evil.on("evil_ctor")
        reply = p.request(f"lightbox/{dev}/cmd/config",
                          {"animation": {"fallback": "evil_ctor"}, "display": {"brightness": 11}})
        assert reply["ok"] is False and reply["error"]["code"] == "apply_failed", reply
        assert eng.settings_path.read_bytes() == before
        assert p.request(f"lightbox/{dev}/cmd/brightness", 55)["state"]["brightness"] == 55
        assert not (eng.workdir / "backups").exists() or not list(
            (eng.workdir / "backups").glob("settings-*.json"))
        # A corrupt file on disk: SIGHUP and cmd/reload are refused, the engine runs on.
        corrupt = b'{"display": {"fps": 30'
        eng.settings_path.write_bytes(corrupt)
        mark = p.mark()
        eng.signal(signal.SIGHUP)
        ev = p.wait_for(f"lightbox/{dev}/events", lambda e: e.get("event") == "config_rejected",
                        timeout_s=10, since=mark)
        assert ev["source"] == "signal"
        reply = p.request(f"lightbox/{dev}/cmd/reload", b"")
        assert reply["ok"] is False and reply["error"]["code"] == "invalid_settings"
        assert eng.settings_path.read_bytes() == corrupt and eng.alive()
        # A good edit by hand, then SIGHUP: applied.
        good = json.loads(before)
        good["display"]["brightness"] = 23
        eng.settings_path.write_text(json.dumps(good))
        mark = p.mark()
        eng.signal(signal.SIGHUP)
        ev = p.wait_for(f"lightbox/{dev}/events", lambda e: e.get("event") == "config_changed",
                        timeout_s=10, since=mark)
        assert "display.brightness" in ev["changes"]
        assert p.wait_for(f"lightbox/{dev}/state", lambda s: s["brightness"] == 23,
                          timeout_s=5, since=mark)
        assert state0["version"] >= 0
    finally:
        p.close()


def test_accepted_changes_keep_n_timestamped_backups_and_a_change_log(
        engine_factory: Factory, broker: Any) -> None:
    dev = "cfgbak"
    eng = engine_factory(dev)
    p = watch(broker, dev)
    try:
        for i in range(13):
            reply = p.request(f"lightbox/{dev}/cmd/config", {"display": {"brightness": 20 + i}})
            assert reply["ok"], reply
        backups = sorted((eng.workdir / "backups").glob("settings-*.json"))
        assert len(backups) == settings_mod.BACKUPS_KEPT
        for b in backups:
            settings_mod.parse_bytes(b.read_bytes())  # each one a complete, valid file
        log = [json.loads(line) for line in
               (eng.workdir / "backups" / "changes.jsonl").read_text().splitlines()]
        assert len(log) == 13 and all(e["source"] == "mqtt" for e in log)
        assert log[-1]["changes"] == [{"path": "display.brightness", "old": 31, "new": 32}]
        assert json.loads(eng.settings_path.read_text())["display"]["brightness"] == 32
        cfg = p.wait_for(f"lightbox/{dev}/config", lambda c: c["history"] and
                         c["history"][0]["changes"][0]["new"] == 32, timeout_s=10)
        assert cfg["source"] == "file"
        assert not list(eng.workdir.glob(".*.tmp"))
        assert events(p, dev, "config_changed")
    finally:
        p.close()


def test_restore_is_validated_before_anything_is_written(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    store = SettingsStore(path)
    store.save(settings_mod.validate({"device_id": "rs"}), source="test")
    before = path.read_bytes()
    for bad in (b"{nope", b'{"display": {"fps": 0}}', b'{"unknown": 1}', b"\xff\xfe"):
        with pytest.raises(SettingsError):
            store.restore(bad, source="http")
        assert path.read_bytes() == before
    assert len(store.backups()) == 0
    good = settings_mod.to_json_bytes({"device_id": "rs", "display": {"brightness": 5}})
    store.restore(good, source="http")
    assert json.loads(path.read_text())["display"]["brightness"] == 5
    assert len(store.backups()) == 1 and store.backups()[0].read_bytes() == before
    assert store.history(1)[0]["source"] == "http"


def _writer(path: Path, base: dict[str, Any]) -> None:
    """Save settings in a loop forever (runs in a forked child until SIGKILL)."""
    store = SettingsStore(path)
    n = 0
    while True:
        n += 1
        data = settings_mod.merge(base, {"display": {"brightness": n % 100 + 1},
                                         "animation": {"params": {"plasma": {
                                             "speed": round(0.1 + (n % 40) / 10, 1)}}}})
        store.save(settings_mod.validate(data), source="file")


def test_kill_at_random_points_while_writing_200_times(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    base = {"device_id": "killme", "mqtt": {"groups": ["a", "b"]},
            "animation": {"params": {"plasma": {"speed": 1.0}}}}
    SettingsStore(path).save(settings_mod.validate(base), source="file")
    rng = random.Random(200)
    saw_tmp = 0
    t0 = time.monotonic()
    for _ in range(200):
        pid = os.fork()
        if pid == 0:  # the child: write until killed
            try:
                _writer(path, base)
            finally:
                os._exit(0)
        time.sleep(rng.uniform(0.0, 0.02))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raw = path.read_bytes()
        s = settings_mod.parse_bytes(raw, str(path))  # valid and complete, every time
        assert s.device_id == "killme" and s.mqtt.groups == ["a", "b"]
        saw_tmp += len(list(tmp_path.glob(".*.tmp"))) + len(
            list((tmp_path / "backups").glob(".*.tmp")))
        for line in (tmp_path / "backups" / "changes.jsonl").read_text().splitlines():
            json.loads(line)
    took = time.monotonic() - t0
    store = SettingsStore(path)
    # A kill between writing a backup and pruning old ones leaves a few extra; the next
    # complete save prunes back to the bound.
    extra = len(store.backups()) - settings_mod.BACKUPS_KEPT
    store.save(settings_mod.validate(base), source="file")
    assert len(store.backups()) == settings_mod.BACKUPS_KEPT
    for b in store.backups():
        settings_mod.parse_bytes(b.read_bytes())
    # Temp files of killed writes are swept at the next start-up.
    left = list(tmp_path.glob(".*.tmp")) + list((tmp_path / "backups").glob(".*.tmp"))
    removed = store.cleanup_temp(older_than_s=0)
    assert removed == len(left)
    assert not list(tmp_path.glob(".*.tmp"))
    report_figure("kill_while_writing", kills=200, seconds=round(took, 1),
                  temp_files_left_by_kills=len(left), extra_backups_before_prune=extra)
    wait_until(lambda: True, 0)
