"""The end-to-end tier with a real Home Assistant, collected only by ``scripts/test-ha-e2e``.

Heavy (HA's own Python 3.13 venv, a ``hass`` process, a broker and an engine), so
the ordinary suite never collects it: ``LIGHTBOX_HA_E2E=1`` (set by the script)
turns it on. When it runs, a missing HA venv or mosquitto FAILS it, never skips.
Owns the module's stack: a mosquitto with the project's config (auth + ACL), a
``lightbox engine`` on the virtual display, and an onboarded Home Assistant with
the MQTT integration added by its config flow, logged in as the broker's
``homeassistant`` user. Records what each case sent and what LightBox answered,
printed at the end of the run.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from appliance.ops.broker import LocalBroker
from appliance.testing import LightboxProcess, MQTTProbe, engine_settings
from appliance.testing import start_broker as start_local_broker
from tests.ha_e2e.hass import HomeAssistant, ha_venv

collect_ignore_glob = [] if os.environ.get("LIGHTBOX_HA_E2E") else ["test_*.py"]

DEVICE = "e2e"
BASE = f"lightbox/{DEVICE}"
DISCOVERY = f"homeassistant/device/lightbox_{DEVICE}/config"
STATE_KEYS = ("state", "brightness", "effect", "preset", "playlist", "live", "notification")
REPORT: list[str] = []
TIMES: dict[str, list[float]] = {}


@dataclass
class Stack:
    """Broker, engine, Home Assistant, and two listeners (LightBox's topics, discovery)."""

    workdir: Path
    broker: LocalBroker
    ha: HomeAssistant
    engine: LightboxProcess
    bus: MQTTProbe  # lightbox-bridge: reads lightbox/# (what HA sent, what LightBox said)
    watcher: MQTTProbe | None = None  # homeassistant: reads the discovery document
    entities: dict[str, str] = field(default_factory=dict)  # component key -> entity_id

    @property
    def discovery(self) -> dict[str, Any]:
        """The latest discovery document LightBox published."""
        assert self.watcher is not None
        doc = self.watcher.last(DISCOVERY)
        assert isinstance(doc, dict), doc
        return doc

    def start_engine(self) -> LightboxProcess:
        """A (new) engine process on the same workdir and settings."""
        self.engine = LightboxProcess("engine", self.workdir / "engine",
                                      engine_settings(self.broker, DEVICE))
        self.engine.start()
        return self.engine

    def registry(self) -> list[dict[str, Any]]:
        """HA's entity registry entries of this box (websocket ``config/entity_registry/list``)."""
        (entries,) = self.ha.ws({"type": "config/entity_registry/list"})
        return [e for e in entries if e.get("platform") == "mqtt"
                and str(e.get("unique_id", "")).startswith(f"lightbox_{DEVICE}_")]

    def map_entities(self, deadline_s: float = 90.0) -> None:
        """Wait until HA registered every discovery component; key -> entity_id."""
        # A component with only its platform is one LightBox withdrew (no preset saved yet).
        uids = {key: c["unique_id"] for key, c in self.discovery["cmps"].items()
                if "unique_id" in c}
        deadline = time.monotonic() + deadline_s
        while True:
            by_uid = {e["unique_id"]: e["entity_id"] for e in self.registry()}
            if all(u in by_uid for u in uids.values()):
                self.entities = {key: by_uid[u] for key, u in uids.items()}
                return
            if time.monotonic() > deadline:
                missing = sorted(k for k, u in uids.items() if u not in by_uid)
                raise AssertionError(f"HA never registered {missing}:\n{self.ha.log_tail()}")
            time.sleep(0.5)

    def entity(self, key: str) -> str:
        """The entity_id of discovery component ``key``."""
        return self.entities[key]


def record(case: str, sent: Any, answered: Any, seconds: float | None = None) -> None:
    """One line of the run's report (and the HA-call -> LightBox-state time)."""
    took = "" if seconds is None else f" ({seconds * 1000:.0f} ms)"
    if isinstance(answered, dict) and "version" in answered:  # a state: what the case is about
        answered = {k: answered.get(k) for k in STATE_KEYS}
    if isinstance(answered, dict) and "week" in answered:  # the schedule: its switch
        answered = {k: answered.get(k) for k in ("enabled", "active", "next")}
    REPORT.append(f"{case}: HA sent {sent!r}; LightBox answered {answered!r}{took}")
    if seconds is not None:
        TIMES.setdefault(case, []).append(seconds)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print what HA sent and what LightBox answered, and the measured times."""
    if not REPORT:
        return
    terminalreporter.section("Home Assistant end-to-end report")
    for line in REPORT:
        terminalreporter.write_line(line)
    calls = sorted(t for case, ts in TIMES.items() if "." in case.split()[0] for t in ts)
    if calls:
        terminalreporter.write_line(
            f"HA service call -> LightBox answer, {len(calls)} calls: min "
            f"{calls[0] * 1000:.0f} ms, median {calls[len(calls) // 2] * 1000:.0f} ms, "
            f"max {calls[-1] * 1000:.0f} ms (includes HA's REST round trip)")


def _need_tools() -> Path:
    venv = ha_venv()
    if not (venv / "bin" / "hass").exists():
        pytest.fail(f"no Home Assistant venv at {venv}: run scripts/test-ha --prepare",
                    pytrace=False)
    if not (shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists()):
        pytest.fail("mosquitto is not installed: apt-get install mosquitto mosquitto-clients",
                    pytrace=False)
    return venv


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The whole stack, started once for the module, stopped (all of it) at the end."""
    venv = _need_tools()
    workdir = tmp_path_factory.mktemp("ha_e2e")
    broker = start_local_broker(workdir / "broker")
    ha = HomeAssistant(workdir / "ha", venv)
    bus = MQTTProbe(broker, "lightbox-bridge").connect().subscribe(f"{BASE}/#")
    s = Stack(workdir, broker, ha, LightboxProcess("engine", workdir / "engine", {}), bus)
    try:
        s.start_engine()
        bus.wait_for(f"{BASE}/status", lambda v: v == "online", timeout_s=30)
        s.watcher = MQTTProbe(broker, "homeassistant").connect().subscribe(DISCOVERY)
        s.watcher.wait_for(DISCOVERY, lambda v: isinstance(v, dict), timeout_s=15)
        started = time.monotonic()
        ha.start()
        ha.wait_api()
        ha.onboard()
        password = broker.password_file("homeassistant").read_text().strip()
        entry = ha.add_mqtt(broker.host, broker.port, "homeassistant", password)
        record("setup (hass start, onboarding, MQTT config flow)", "flow mqtt -> broker form",
               f"entry created: {entry.get('title')}", time.monotonic() - started)
        s.map_entities()
        yield s
    finally:
        bus.close()
        if s.watcher is not None:
            s.watcher.close()
        ha.stop()
        s.engine.stop()
        broker.stop()
