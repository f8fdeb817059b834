"""settings.json: validation messages, `lightbox check-config`, atomic saves and backups."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from appliance import settings as s


def lines_for(data: object) -> list[str]:
    with pytest.raises(s.SettingsError) as info:
        s.validate(data)
    return info.value.lines()


def test_empty_object_is_valid_for_development() -> None:
    cfg = s.validate({})
    assert cfg.display.fps == 30 and cfg.mqtt.base_topic == "lightbox"
    assert cfg.bridge.port == 5001


def test_unknown_keys_are_named_with_their_dotted_path() -> None:
    assert lines_for({"displya": {}}) == ["displya: unknown key"]
    assert lines_for({"display": {"brightnes": 5}}) == ["display.brightnes: unknown key"]


def test_every_problem_gets_its_own_line() -> None:
    out = lines_for({"display": {"rows": 3, "driver": "hologram"},
                     "animation": {"default": "nope", "params": {"plasma": {"speed": 99}}},
                     "device_id": "Bad Id"})
    assert any(line.startswith("display.rows: ") for line in out)
    assert any(line.startswith("display.driver: ") for line in out)
    assert "animation.default: unknown animation 'nope'" in out
    assert any(line.startswith("animation.params.plasma.speed: ") for line in out)
    assert any(line.startswith("device_id: ") for line in out)


def test_reserved_device_ids_are_refused() -> None:
    assert lines_for({"device_id": "all"})[0].startswith("device_id: 'all' is reserved")


def test_check_config_cli(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text("{}")
    bad = tmp_path / "bad.json"
    bad.write_text('{"display": {"fps": 0}, "extra": 1}')
    broken = tmp_path / "broken.json"
    broken.write_text('{"display": ')
    run = [sys.executable, "-m", "appliance", "check-config"]
    r = subprocess.run([*run, str(good)], capture_output=True, text=True)
    assert r.returncode == 0
    r = subprocess.run([*run, str(bad)], capture_output=True, text=True)
    assert r.returncode == 78
    assert r.stdout.splitlines() == [
        "display.fps: Input should be greater than or equal to 1", "extra: unknown key"]
    r = subprocess.run([*run, str(broken)], capture_output=True, text=True)
    assert r.returncode == 78 and r.stdout.startswith("(file): invalid JSON at line 1")
    r = subprocess.run([*run, str(tmp_path / "missing.json")], capture_output=True, text=True)
    assert r.returncode == 78 and "does not exist" in r.stdout


def test_checked_in_settings_file_is_valid() -> None:
    s.load(Path(__file__).resolve().parents[2] / "settings.json")


def test_save_is_atomic_keeps_backups_and_logs_changes(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text("{}")
    store = s.SettingsStore(path, keep=3)
    old = store.load()
    for level in (10, 20, 30, 40, 50):
        new = s.validate(s.merge(s.dump(old), {"display": {"brightness": level}}))
        changes = store.save(new, source="mqtt", old=old)
        assert changes == [{"path": "display.brightness", "old": old.display.brightness,
                            "new": level}]
        old = new
    assert json.loads(path.read_text())["display"]["brightness"] == 50
    assert len(store.backups()) == 3  # bounded
    assert s.load(store.backups()[0]).display.brightness == 40  # newest backup = previous
    history = store.history()
    assert [h["changes"][0]["new"] for h in history] == [50, 40, 30, 20, 10]
    assert history[0]["source"] == "mqtt"
    assert not list(tmp_path.glob(".settings.json.*"))  # no temp files left


def test_load_with_fallback_uses_the_newest_valid_backup(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text('{"display": {"brightness": 33}}')
    store = s.SettingsStore(path)
    store.backup_current()
    path.write_text('{"display": {"brightness": "very"}}')
    cfg, source, err = store.load_with_fallback()
    assert cfg.display.brightness == 33 and source.startswith("backup:")
    assert err is not None and err.lines()[0].startswith("display.brightness")


def test_merge_and_diff() -> None:
    merged = s.merge({"a": {"b": 1, "c": 2}, "d": 1}, {"a": {"b": 5}})
    assert merged == {"a": {"b": 5, "c": 2}, "d": 1}
    assert s.diff_paths({"a": {"b": 1}}, {"a": {"b": 2}, "x": 1}) == [
        {"path": "a.b", "old": 1, "new": 2}, {"path": "x", "old": None, "new": 1}]


# ---------------------------------------------------------------------------------------
# The animation catalogue is given, not imported

RETAINED = [{"name": "plasma", "params": [{"name": "speed", "type": "float"}]},
            {"name": "breathe", "params": [{"name": "period", "type": "float"}]}]


def test_without_a_catalogue_animation_names_are_not_checked() -> None:
    cfg = s.validate({"animation": {"default": "nope", "params": {"nope": {"x": 1}}}}, None)
    assert cfg.animation.default == "nope"


def test_a_given_registry_is_what_names_and_parameters_are_checked_against() -> None:
    import numpy as np

    from animations import Animation, Param, Registry

    class Only(Animation):
        name = "only"
        title = "Only"
        params = (Param("level", "int", 1, min=0, max=3),)

        def draw(self, t: float) -> np.ndarray:
            return np.zeros((self.height, self.width, 3), np.uint8)

    reg = Registry()
    reg.register(Only)
    doc = {"animation": {"default": "only", "fallback": "only"}}
    assert s.validate(doc, reg).animation.default == "only"
    with pytest.raises(s.SettingsError) as info:
        s.validate({"animation": {"params": {"only": {"level": 9}}}}, reg)
    assert info.value.lines()[0].startswith("animation.default: unknown animation 'plasma'")
    assert any(line.startswith("animation.params.only.level: ") for line in info.value.lines())


def test_the_retained_catalogue_checks_animation_and_parameter_names() -> None:
    cat = s.RetainedCatalogue(RETAINED)
    ok = {"animation": {"default": "plasma", "params": {"plasma": {"speed": 2}}}}
    assert s.validate(ok, cat).animation.params == {"plasma": {"speed": 2}}
    with pytest.raises(s.SettingsError) as info:
        s.validate({"animation": {"default": "image", "params": {"plasma": {"sped": 1}}}}, cat)
    assert info.value.lines() == [
        "animation.default: unknown animation 'image'",
        "animation.params.plasma.sped: unknown parameter for 'plasma' (known: speed)"]


def test_the_store_validates_with_its_catalogue(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"animation": {"default": "nope"}}))
    assert s.SettingsStore(path, catalogue=None).load().animation.default == "nope"
    with pytest.raises(s.SettingsError, match="unknown animation 'nope'"):
        s.SettingsStore(path).load()


def test_read_secret_reads_the_first_line_and_says_empty_without_crashing(tmp_path: Path) -> None:
    f = tmp_path / "secret"
    assert s.read_secret(None) is None
    assert s.read_secret(f) is None  # no such file
    f.write_text("")
    assert s.read_secret(f) == ""  # an empty file is not a crash (it was an IndexError)
    f.write_text("  tok3n \nsecond line\n")
    assert s.read_secret(f) == "tok3n"
