"""A throwaway Home Assistant for the e2e tier: its process, REST calls, onboarding, MQTT flow.

Owns writing a config dir (``http: server_port`` on a free port, no ``default_config``),
starting ``hass -c DIR --skip-pip`` from the HA venv (``LIGHTBOX_HA_VENV``, as
``scripts/test-ha`` finds it), waiting for its HTTP API, onboarding through the REST
API, adding the MQTT integration by its config flow, calling services, and websocket
commands (``ws_call.py`` run by the HA venv's Python: the project venv has no
websocket client). Knows nothing of LightBox topics or entities.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from appliance.ops.broker import free_port

HERE = Path(__file__).resolve().parent

# The frontend's static files (home-assistant-frontend, ~50 MB) are not installed: the
# frontend integration's documented ``development_repo`` points it at an empty tree, so
# HA starts without falling into recovery mode. The tier never opens a page.
CONFIG = """\
homeassistant:
  name: LightBox e2e
  unit_system: metric
  time_zone: UTC
  latitude: 0
  longitude: 0
  elevation: 0
  country: DE
http:
  server_host: 127.0.0.1
  server_port: {port}
api:
websocket_api:
config:
onboarding:
frontend:
  development_repo: {frontend}
logger:
  default: warning
  logs:
    homeassistant.components.mqtt: info
"""


def ha_venv() -> Path:
    """The HA venv, found as ``scripts/test-ha`` finds it."""
    version = os.environ.get("LIGHTBOX_HA_VERSION", "2025.4.4")
    return Path(os.environ.get("LIGHTBOX_HA_VENV", f"/tmp/lightbox-ha-{version}"))


class HAError(AssertionError):
    """Home Assistant answered something the tier did not expect."""


@dataclass
class HomeAssistant:
    """One ``hass`` process on a throwaway config dir, and a REST/websocket client of it."""

    config_dir: Path
    venv: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    token: str = ""

    def __post_init__(self) -> None:
        self.port = self.port or free_port()
        self.client_id = f"http://127.0.0.1:{self.port}/"

    @property
    def url(self) -> str:
        """The HTTP API's root."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        """stdout+stderr of hass."""
        return self.config_dir / "hass.out"

    def write_config(self) -> None:
        """A minimal configuration.yaml (and the empty frontend tree)."""
        frontend = self.config_dir / "frontend-stub"
        for sub in ("static", "frontend_latest", "frontend_es5"):
            (frontend / "hass_frontend" / sub).mkdir(parents=True, exist_ok=True)
        (frontend / "hass_frontend" / "index.html").write_text("<html></html>\n")
        (self.config_dir / "configuration.yaml").write_text(
            CONFIG.format(port=self.port, frontend=frontend))

    def start(self) -> None:
        """Start hass (the config dir is written on the first start)."""
        if not (self.config_dir / "configuration.yaml").exists():
            self.config_dir.mkdir(parents=True, exist_ok=True)
            self.write_config()
        self.process = subprocess.Popen(
            [str(self.venv / "bin" / "hass"), "-c", str(self.config_dir), "--skip-pip"],
            stdout=self.log_path.open("ab"), stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)

    def stop(self, timeout_s: float = 60.0) -> None:
        """SIGTERM (HA writes its storage on the way out), SIGKILL when it hangs."""
        p = self.process
        if p is None or p.poll() is not None:
            return
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout_s)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)

    def log_tail(self, chars: int = 4000) -> str:
        """The end of hass's output."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def wait_api(self, timeout_s: float = 180.0) -> None:
        """Wait until the HTTP API answers (and, once onboarded, until HA is RUNNING)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise HAError(f"hass exited {self.process.returncode}:\n{self.log_tail()}")
            try:
                if not self.token:
                    if requests.get(f"{self.url}/api/onboarding", timeout=5).ok:
                        return
                elif self.get("/api/config").get("state") == "RUNNING":
                    return
            except (requests.RequestException, HAError):
                pass
            time.sleep(0.5)
        raise HAError(f"HA API not up in {timeout_s}s:\n{self.log_tail()}")

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def get(self, path: str) -> Any:
        """GET a REST path; the JSON answer."""
        r = requests.get(self.url + path, headers=self._headers(), timeout=30)
        if not r.ok:
            raise HAError(f"GET {path}: {r.status_code} {r.text[:500]}")
        return r.json()

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """POST JSON to a REST path; the JSON answer."""
        r = requests.post(self.url + path, json=body or {}, headers=self._headers(), timeout=30)
        if not r.ok:
            raise HAError(f"POST {path} {body}: {r.status_code} {r.text[:500]}")
        return r.json() if r.text else None

    def onboard(self) -> None:
        """Create the owner, get an access token, finish the remaining onboarding steps."""
        created = self.post("/api/onboarding/users", {
            "client_id": self.client_id, "name": "E2E", "username": "e2e",
            "password": "e2e-password-not-secret", "language": "en"})
        r = requests.post(f"{self.url}/auth/token", timeout=30, data={
            "grant_type": "authorization_code", "code": created["auth_code"],
            "client_id": self.client_id})
        if not r.ok:
            raise HAError(f"/auth/token: {r.status_code} {r.text[:500]}")
        self.token = r.json()["access_token"]
        self.post("/api/onboarding/core_config")
        self.post("/api/onboarding/analytics")
        self.post("/api/onboarding/integration",
                  {"client_id": self.client_id, "redirect_uri": self.client_id})
        steps = {s["step"]: s["done"] for s in self.get("/api/onboarding")}
        if not all(steps.values()):
            raise HAError(f"onboarding not done: {steps}")

    def add_mqtt(self, host: str, port: int, username: str, password: str) -> dict[str, Any]:
        """The MQTT integration by its config flow (no supervisor: straight to ``broker``)."""
        flow = self.post("/api/config/config_entries/flow",
                         {"handler": "mqtt", "show_advanced_options": False})
        if flow.get("type") != "form" or flow.get("step_id") != "broker":
            raise HAError(f"mqtt flow did not open on the broker form: {flow}")
        done = self.post(f"/api/config/config_entries/flow/{flow['flow_id']}", {
            "broker": host, "port": port, "username": username, "password": password})
        if done.get("type") != "create_entry":
            raise HAError(f"mqtt flow did not create the entry: {done}")
        return dict(done)

    def call(self, domain: str, service: str, data: dict[str, Any]) -> Any:
        """A service call through REST (``POST /api/services/<domain>/<service>``)."""
        return self.post(f"/api/services/{domain}/{service}", data)

    def state(self, entity_id: str) -> dict[str, Any] | None:
        """An entity's state object, or None when HA has none."""
        r = requests.get(f"{self.url}/api/states/{entity_id}", headers=self._headers(),
                         timeout=30)
        return r.json() if r.ok else None

    def ws(self, *messages: dict[str, Any]) -> list[Any]:
        """Websocket commands (``ws_call.py`` in the HA venv); each one's ``result``."""
        done = subprocess.run(
            [str(self.venv / "bin" / "python"), str(HERE / "ws_call.py"),
             f"ws://127.0.0.1:{self.port}/api/websocket"],
            input=json.dumps({"token": self.token, "messages": list(messages)}),
            capture_output=True, text=True, timeout=60, check=False)
        if done.returncode:
            raise HAError(f"websocket: {done.stderr[-2000:]}")
        return list(json.loads(done.stdout))
