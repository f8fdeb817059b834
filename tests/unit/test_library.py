"""The stored presets and playlists (contract section 8): limits, documents, files that load,
files that are broken (set aside, never a crash), and the state files' SD-card-friendly
saving (a playlist's own advance debounced), on a fake clock."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from animations import REGISTRY
from appliance.content import library
from appliance.content.library import Library, Playlist
from appliance.display.virtual import VirtualDisplay
from appliance.render.boot import apply_boot
from appliance.render.clock import FakeClock
from appliance.render.engine import Engine
from appliance.settings import validate
from appliance.state_files import StateFiles
from appliance.wire.commands import parse_command
from appliance.wire.errors import CommandError
from appliance.wire.look_commands import MAX_PLAYLISTS, Look, PlaylistItem

RED, BLUE = "#ff0000", "#0000ff"


def _pl(name: str, *items: PlaylistItem) -> Playlist:
    return Playlist(name, items or (PlaylistItem(5, "Red"),))


def test_limits_overwrites_and_unknown_names() -> None:
    lib = Library()
    for n in range(MAX_PLAYLISTS):
        lib.save_playlist(_pl(f"l{n}"))
    with pytest.raises(CommandError) as exc:
        lib.save_playlist(_pl("more"))
    assert exc.value.code == "limit_reached" and exc.value.field == "save"
    lib.save_playlist(_pl("l3", PlaylistItem(9, "Blue")))
    assert lib.playlists["l3"].items[0].preset == "Blue"
    with pytest.raises(CommandError) as exc:
        lib.delete_preset("nope")
    assert exc.value.code == "unknown_preset" and exc.value.field == "delete"
    with pytest.raises(CommandError) as exc:
        lib.playlist("nope", "play")
    assert exc.value.code == "unknown_playlist" and exc.value.field == "play"


def test_every_change_publishes_a_new_version_and_the_old_document_stays_as_it_was() -> None:
    lib = Library()
    first = lib.presets_doc
    lib.save_preset("A", Look("solid", {"color": RED}, 40))
    second = lib.presets_doc
    lib.delete_preset("A")
    assert (first.version, second.version, lib.presets_doc.version) == (0, 1, 2)
    assert first.doc == [] and second.doc == [
        {"name": "A", "animation": "solid", "params": {"color": RED}, "brightness": 40}]


def test_a_library_round_trips_through_its_files(tmp_path: Path) -> None:
    lib = Library([("A", Look("solid", {"color": RED}, 40)), ("B b", Look("plasma", {}, None))],
                  [Playlist("P", (PlaylistItem(5, "A"),
                                  PlaylistItem(2.5, None, "solid", {"color": BLUE})),
                            shuffle=True, repeat=False, transition_s=0.5)])
    (tmp_path / "presets.json").write_bytes(library.presets_bytes(lib.presets_doc.doc))
    (tmp_path / "playlists.json").write_bytes(library.playlists_bytes(lib.playlists_doc.doc))
    back = library.load(tmp_path)
    assert back.presets == lib.presets and back.playlists == lib.playlists
    assert back.presets_doc.version == 0  # nothing to write back
    assert sorted(p.name for p in tmp_path.iterdir()) == ["playlists.json", "presets.json"]


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b'{"presets": 3}',
                                     b'{"presets": [{"name": "A", "animation": "x", '
                                     b'"brightness": NaN}]}', b"\xff\xfe"])
def test_a_broken_file_is_set_aside_and_the_box_starts_without_it(tmp_path: Path,
                                                                   content: bytes) -> None:
    (tmp_path / "presets.json").write_bytes(content)
    lib = library.load(tmp_path)
    assert lib.presets == {}
    assert not (tmp_path / "presets.json").exists()
    aside = list(tmp_path.glob("presets.json.broken-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == content


def test_invalid_entries_are_dropped_and_the_good_ones_written_back(tmp_path: Path) -> None:
    good = {"name": "A", "animation": "solid", "params": {"color": RED}, "brightness": 40}
    bad = [{"name": "bad/name", "animation": "solid"}, {"name": "B", "animation": "solid",
                                                        "brightness": 500},
           {"name": "C", "animation": "solid", "extra": 1}, dict(good)]  # last: a duplicate
    (tmp_path / "presets.json").write_text(json.dumps({"format": 1,
                                                       "presets": [good, *bad]}))
    (tmp_path / "playlists.json").write_text(json.dumps({"format": 1, "playlists": [
        {"name": "P", "items": [{"preset": "A", "duration_s": 0}]}]}))  # duration too short
    files = StateFiles(tmp_path)
    lib = files.load_library()
    assert list(lib.presets) == ["A"] and lib.playlists == {}
    assert lib.presets_doc.version > 0 and lib.playlists_doc.version > 0  # to be written
    eng = _engine()
    eng.looks.library = lib
    files.tick(eng)
    saved = json.loads((tmp_path / "presets.json").read_text())
    assert saved == {"format": 1, "presets": [good]}
    assert json.loads((tmp_path / "playlists.json").read_text())["playlists"] == []
    assert len(list(tmp_path.glob("presets.json.broken-*"))) == 1


# ---------------------------------------------------------------------- state files
def _engine(clock: FakeClock | None = None) -> Engine:
    eng = Engine(validate({"device_id": "unit", "animation": {"default": "plasma"}}),
                 VirtualDisplay(16, 8), REGISTRY, clock=clock or FakeClock())
    eng.looks.player.rng = random.Random(3)
    eng.start()
    return eng


def send(eng: Engine, action: str, payload: Any) -> None:
    raw = payload if isinstance(payload, str) else json.dumps(payload)
    eng.submit(parse_command(action, raw.encode()))
    eng.tick(eng.clock.monotonic())


def _two_colour_playlist(eng: Engine, seconds: float) -> None:
    send(eng, "playlist", {"save": "RB", "transition_s": 0, "items": [
        {"animation": "solid", "params": {"color": RED}, "duration_s": seconds},
        {"animation": "solid", "params": {"color": BLUE}, "duration_s": seconds}]})
    send(eng, "playlist", {"play": "RB"})


def writes_in_an_hour(position_save_s: float, item_s: float) -> tuple[int, int]:
    """State writes and item changes in one simulated hour of a playlist (frames at 5 fps,
    the service's 2 s timer)."""
    clock = FakeClock()
    eng = _engine(clock)
    count: list[Path] = []
    files = StateFiles(Path("/nonexistent"), clock=clock.monotonic,
                       write=lambda path, data, mode: count.append(path),
                       position_save_s=position_save_s)
    _two_colour_playlist(eng, item_s)
    files.tick(eng)
    count.clear()
    start = eng.looks.position_version
    for frame in range(3600 * 5):
        clock.advance(0.2)
        eng.tick(clock.monotonic())
        if frame % 10 == 9:
            files.tick(eng)
    return len(count), eng.looks.position_version - start


def test_a_playlist_of_short_items_writes_the_sd_card_a_handful_of_times_an_hour() -> None:
    before, changes = writes_in_an_hour(0.0, 5.0)  # one save per state change
    after, _ = writes_in_an_hour(600.0, 5.0)
    assert abs(changes - 720) <= 1 and before == changes
    assert after <= 7  # every ten minutes


def test_hand_made_changes_are_saved_at_the_next_tick_and_everything_at_a_clean_stop(
        tmp_path: Path) -> None:
    clock = FakeClock()
    eng = _engine(clock)
    files = StateFiles(tmp_path, clock=clock.monotonic)
    files.tick(eng)
    send(eng, "preset", {"save": "Red", "animation": "solid", "params": {"color": RED}})
    _two_colour_playlist(eng, 5)
    files.tick(eng)
    state = json.loads(files.state_file.read_text())
    assert state["playlist"] == {"name": "RB", "index": 0} and state["effect"] == "solid"
    assert json.loads((tmp_path / "presets.json").read_text())["presets"][0]["name"] == "Red"
    writes = files.writes
    clock.advance(5.1)
    eng.tick(clock.monotonic())
    files.tick(eng)
    assert files.writes == writes  # the position moved by itself: not yet
    files.flush(eng)
    assert json.loads(files.state_file.read_text())["playlist"] == {"name": "RB", "index": 1}
    files.flush(eng)
    assert files.writes == writes + 1  # nothing more to write


# ---------------------------------------------------------------------- boot
def _booted(folder: Path, policy: str) -> Engine:
    files = StateFiles(folder)
    saved = files.load_state()
    eng = Engine(validate({"device_id": "unit", "animation": {"default": "plasma",
                                                               "boot": policy}}),
                 VirtualDisplay(16, 8), REGISTRY, clock=FakeClock())
    eng.looks.library = files.load_library()
    eng.start(saved if policy == "last" else None)
    apply_boot(eng.looks, policy, saved, eng.clock.monotonic())
    eng.tick(eng.clock.monotonic())
    return eng


def _used(folder: Path) -> None:
    """A box that saved a preset, plays the playlist at its second item, brightness 30."""
    eng = _engine()
    files = StateFiles(folder)
    send(eng, "preset", {"save": "Red", "animation": "solid", "params": {"color": RED},
                         "brightness": 60})
    _two_colour_playlist(eng, 5)
    send(eng, "playlist", "next")
    send(eng, "brightness", 30)
    files.flush(eng)


def test_boot_last_resumes_the_playlist_at_its_item_with_the_brightness(tmp_path: Path) -> None:
    _used(tmp_path)
    st = _booted(tmp_path, "last").state()
    assert st["playlist"] is not None and st["playlist"]["index"] == 1
    assert st["params"] == {"color": BLUE} and st["brightness"] == 30 and st["state"] == "ON"


@pytest.mark.parametrize(("policy", "effect", "power", "preset"), [
    ("default", "plasma", "ON", None), ("off", "plasma", "OFF", None),
    ("preset:Red", "solid", "ON", "Red"), ("preset:Gone", "plasma", "ON", None),
    ("playlist:Gone", "plasma", "ON", None)])
def test_boot_policies(tmp_path: Path, policy: str, effect: str, power: str,
                       preset: str | None) -> None:
    _used(tmp_path)
    st = _booted(tmp_path, policy).state()
    assert (st["effect"], st["state"], st["preset"], st["playlist"]) == (
        effect, power, preset, None)


def test_boot_playlist_starts_it(tmp_path: Path) -> None:
    _used(tmp_path)
    st = _booted(tmp_path, "playlist:RB").state()
    assert st["playlist"] is not None and st["playlist"]["index"] == 0


def test_boot_last_names_the_preset_that_showed(tmp_path: Path) -> None:
    eng = _engine()
    files = StateFiles(tmp_path)
    send(eng, "preset", {"save": "Red", "animation": "solid", "params": {"color": RED}})
    send(eng, "preset", {"apply": "Red"})
    files.flush(eng)
    st = _booted(tmp_path, "last").state()
    assert st["preset"] == "Red" and st["effect"] == "solid" and st["playlist"] is None


def test_a_broken_state_file_boots_the_default(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text("{half")
    st = _booted(tmp_path, "last").state()
    assert st["effect"] == "plasma" and st["state"] == "ON"
