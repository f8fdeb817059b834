"""A fake engine behind the ``bridge.ports.EngineLink`` port: answers like an engine, no broker.

Owns a cache of the retained documents an engine publishes (status, state,
animations, health, metrics, info, config), a small command interpreter that
changes the state the way the engine does and publishes it before it replies
(``{"ok": true, "state": {...}}``, or ``{"ok": false, "error": {...}}`` for an
unknown animation), scripted replies, and switches for the two failures
(offline, no answer), and the notification queue of contract section 7
(``cmd/notify`` / ``cmd/notify/dismiss`` answered as the engine does, the
retained ``notifications`` document), and the presets, playlists, schedule and live
mode of sections 8 and 9 (``tests.bridge.unit.fake_looks``). Every request is
recorded. Knows nothing of Flask or paho.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from animations import REGISTRY
from appliance.settings import Settings
from appliance.settings import merge as merge_settings
from appliance.wire import commands, jsonsafe, topics
from appliance.wire.payloads import DismissPayload, NotifyPayload, PayloadModel
from bridge.ports import Cached, EngineOffline, EngineTimeout, Listener, Reply, RetainedCache
from tests.bridge.unit.fake_looks import FakeLooks, look_documents

#: A reply the test scripts: a fixed reply, or a function of the request body.
Scripted = Reply | Callable[[Any], Reply]

#: What a real engine publishes on ``<base>/animations``: the built-in catalogue itself, so
#: settings that name any built-in (the default fallback ``breathe`` among them) validate.
CATALOGUE: list[dict[str, Any]] = REGISTRY.catalogue()

#: The notification actions, until ``appliance.wire.commands.parse_command`` knows them.
NOTIFY_MODELS: dict[str, type[PayloadModel]] = {"notify": NotifyPayload,
                                                "notify/dismiss": DismissPayload}


def parse_with_notify(action: str, payload: bytes, *args: Any, **kw: Any) -> Any:
    """``parse_command``, validating ``notify`` / ``notify/dismiss`` with their payload models
    while the wire parser does not know them yet (the same models it will use)."""
    try:
        return commands.parse_command(action, payload, *args, **kw)
    except commands.CommandError as err:
        if action not in NOTIFY_MODELS or err.code != "unknown_command":
            raise
    data = jsonsafe.loads(payload.decode()) if payload.strip() else {}
    try:
        return NOTIFY_MODELS[action].model_validate(
            {"text": data} if isinstance(data, str) else data)
    except ValidationError as exc:
        raise commands.command_error(exc) from None


#: The built-in icon names of contract section 7 (issue 14) as the fake lists them.
ICONS = ("info", "warning", "door", "bell", "thermometer", "drop", "sun", "moon", "check",
         "cross", "mail", "phone")


def _now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def engine_documents(settings: Settings) -> dict[str, Any]:
    """Return the retained documents a freshly started engine publishes."""
    w, h = settings.display.width, settings.display.height
    return {
        "status": "online",
        "state": {"state": "ON", "brightness": 80, "effect": "plasma",
                  "color_mode": "brightness", "params": {"speed": 1.0}, "version": 1,
                  "started_at": time.time(), "preset": None, "playlist": None,
                  "live": {"active": False, "protocol": None, "source": None, "fps": 0,
                           "mode": "auto"}},
        "animations": copy.deepcopy(CATALOGUE),
        "health": {"status": "ok", "reasons": [], "checks": {}, "ts": _now_iso(),
                   "uptime_s": 1.0},
        "metrics": {"fps": 30.0, "target_fps": 30, "frames_total": 300, "frames_dropped": 0,
                    "uptime_s": 10.0},
        "info": {"device_id": settings.device_id, "version": "test",
                 "display": {"driver": "virtual", "width": w, "height": h},
                 "preview": {"width": w, "height": h, "format": "rgb24"}},
        "config": {"settings": settings.model_dump(mode="json"), "source": "file",
                   "history": [{"ts": _now_iso(), "source": "file", "changes": []}]},
        "notifications": {"active": None, "queue": []},
        "icons": list(ICONS),
        **look_documents(),
    }


class FakeNotifications:
    """The section 7 queue, simply: highest priority shows, higher pre-empts, id replaces."""

    def __init__(self) -> None:
        self.active: dict[str, Any] | None = None
        self.queue: list[dict[str, Any]] = []
        self._made = 0

    def document(self) -> dict[str, Any]:
        """The retained ``<base>/notifications`` document."""
        active = None
        if self.active is not None:
            a = self.active
            ends = None if a["hold"] else a["started_at"] + a["duration_s"]
            active = {"id": a["id"], "text": a["text"], "priority": a["priority"],
                      "started_at": a["started_at"], "ends_at": ends}
        return {"active": active, "queue": [
            {k: q[k] for k in ("id", "text", "priority", "queued_at")} for q in self.queue]}

    def notify(self, body: Any) -> str:
        """Take a ``cmd/notify`` body (object or bare text); return the notification's id."""
        body = {"text": body} if isinstance(body, str) else dict(body)
        if not body.get("id"):
            self._made += 1
            body["id"] = f"n{self._made}"
        now = time.time()
        item = {"id": body["id"], "text": body["text"], "priority": body.get("priority", 50),
                "duration_s": body.get("duration_s", 8.0), "hold": body.get("hold", False),
                "queued_at": now, "started_at": now}
        if self.active is not None and self.active["id"] == item["id"]:
            self.active = item
        elif any(q["id"] == item["id"] for q in self.queue):
            self.queue = [item if q["id"] == item["id"] else q for q in self.queue]
        elif self.active is None:
            self.active = item
        elif item["priority"] > self.active["priority"]:
            self.queue.insert(0, self.active)
            self.active = item
        else:
            at = next((i for i, q in enumerate(self.queue) if q["priority"] < item["priority"]),
                      len(self.queue))
            self.queue.insert(at, item)
        return str(item["id"])

    def dismiss(self, body: Any) -> None:
        """Take a ``cmd/notify/dismiss`` body: ``{}`` the showing one, ``{"id"}``, ``{"all"}``."""
        if body.get("all"):
            self.active, self.queue = None, []
            return
        wanted = body.get("id")
        if wanted is not None and (self.active is None or self.active["id"] != wanted):
            self.queue = [q for q in self.queue if q["id"] != wanted]
            return
        self.active = self.queue.pop(0) if self.queue else None
        if self.active is not None:
            self.active["started_at"] = time.time()


class FakeEngineLink(RetainedCache):
    """An ``EngineLink`` that is its own engine: commands change its retained state."""

    def __init__(self, settings: Settings | None = None, *, online: bool = True) -> None:
        super().__init__()
        self.settings = settings or Settings(device_id="fake")
        self.connected = True
        self.last_error: str | None = None
        self._listeners: list[Listener] = []
        #: (action, body) of every request that reached the engine.
        self.requests: list[tuple[str, Any]] = []
        #: Replies by action, used instead of the interpreter.
        self.replies: dict[str, Scripted] = {}
        #: When True the engine takes the command and never answers (EngineTimeout).
        self.silent = False
        self.preview_requests = 0
        self.notifications = FakeNotifications()
        self.looks = FakeLooks()
        for name, value in engine_documents(self.settings).items():
            self.publish(name, value)
        if not online:
            self.publish("status", "offline")

    # ------------------------------------------------------------------ the engine's side
    def publish(self, name: str, value: Any) -> None:
        """Deliver a message on ``<base>/<name>`` as the broker would (retained ones cached)."""
        if name in topics.RETAINED:
            if value is None:
                self._cache.pop(name, None)
            else:
                self._cache[name] = Cached(value, time.monotonic(), time.time())
        for listener in list(self._listeners):
            listener(name, value)

    def forget(self, name: str) -> None:
        """Drop a retained document, as if the engine had never published it."""
        self._cache.pop(name, None)

    def disconnect(self, error: str = "broker unreachable") -> None:
        """Lose the broker: status becomes unknown."""
        self.connected = False
        self.last_error = error
        for listener in list(self._listeners):
            listener("status", "unknown")

    # ------------------------------------------------------------------ EngineLink
    def request(self, action: str, body: Any, timeout_s: float | None = None) -> Reply:
        """Apply the command like the engine and return its reply."""
        status = self.engine_status()
        if status != "online":
            raise EngineOffline(f"engine is {status}")
        self.requests.append((action, copy.deepcopy(body)))
        if self.silent:
            timeout = self.settings.bridge.command_timeout_s if timeout_s is None else timeout_s
            raise EngineTimeout(f"the engine did not answer within {timeout:g} s")
        scripted = self.replies.get(action)
        if scripted is not None:
            return scripted(body) if callable(scripted) else copy.deepcopy(scripted)
        return self._apply(action, body)

    def want_preview(self) -> None:
        """Count preview renewals."""
        self.preview_requests += 1

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(name, value)`` for every message."""
        self._listeners.append(listener)

    # ------------------------------------------------------------------ the interpreter
    def _apply(self, action: str, body: Any) -> Reply:
        state = copy.deepcopy(self.value("state"))
        extra: dict[str, Any] = {}
        if action in ("notify", "notify/dismiss"):
            extra = self._apply_notify(action, body)
            state["notification"] = (self.notifications.active or {}).get("id")
        elif action == "animation":
            names = {a["name"] for a in self.value("animations") or []}
            if body["name"] not in names:
                return {"ok": False, "error": {"code": "unknown_animation", "field": "name",
                                               "message": f"no animation named {body['name']!r}"}}
            state.update(effect=body["name"], params=dict(body.get("params") or {}),
                         preset=None, playlist=None)
        elif action == "brightness":
            if body["brightness"] == 0:
                state["state"] = "OFF"
            else:
                state.update(state="ON", brightness=body["brightness"])
        elif action == "power":
            wanted = body["state"]
            if wanted == "TOGGLE":
                wanted = "OFF" if state["state"] == "ON" else "ON"
            state["state"] = wanted
        elif action == "params":
            state["params"] = {**state.get("params", {}), **body}
        elif action == "config":
            self._apply_config(body)
        elif action in ("preset", "playlist", "schedule", "live"):
            refused = self.looks.apply(action, body, state)
            if refused is not None:
                return refused
            self.publish("presets", copy.deepcopy(self.looks.presets))
            self.publish("playlists", copy.deepcopy(self.looks.playlists))
            self.publish("schedule", copy.deepcopy(self.looks.schedule))
        state["version"] = state.get("version", 0) + 1
        self.publish("state", state)
        return {"ok": True, **extra, "state": state}

    def _apply_notify(self, action: str, body: Any) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if action == "notify":
            extra["notification"] = {"id": self.notifications.notify(body)}
        else:
            self.notifications.dismiss(body)
        self.publish("notifications", self.notifications.document())
        return extra

    def _apply_config(self, body: dict[str, Any]) -> None:
        cfg = copy.deepcopy(self.value("config"))
        patch = {k: v for k, v in body.items() if k != "replace"}
        cfg["settings"] = patch if body.get("replace") else merge_settings(cfg["settings"], patch)
        cfg["history"] = [*cfg.get("history", []),
                          {"ts": _now_iso(), "source": "http", "changes": sorted(patch)}]
        self.publish("config", cfg)
