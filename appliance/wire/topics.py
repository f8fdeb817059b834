"""MQTT topic names: every topic LightBox uses is built here and nowhere else.

Shared by the engine and the bridge. Knows nothing of paho, displays or Flask.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Retained topics the engine publishes under its base.
RETAINED = ("status", "state", "animations", "health", "metrics", "info", "config",
            "notifications", "icons", "presets", "playlists", "schedule")
#: Non-retained topics the engine publishes under its base (live events, preview frames).
LIVE = ("events", "preview")
#: Retained topics the HTTP API serves as they are (``GET /api/<name>``).
HTTP_READABLE = ("state", "animations", "metrics", "info")
#: Retained topics a new Server-Sent Events stream starts with, in this order
#: (after ``status``, which the bridge reports from its own view of the link).
SSE_SNAPSHOT = ("info", "animations", "state", "health", "metrics", "config",
                "notifications", "icons", "presets", "playlists", "schedule")
#: Every engine topic forwarded to Server-Sent Events streams (event name = topic name).
SSE_FORWARDED = (*RETAINED, *LIVE)
#: Command actions; each is ``<base>/cmd/<action>`` (``set`` is ``<base>/set``).
COMMANDS = (
    "animation",
    "brightness",
    "power",
    "params",
    "config",
    "reload",
    "identify",
    "preview",
    "notify",
    "notify/dismiss",
    "preset",
    "playlist",
    "schedule",
    "live",
)
#: Response topics for MQTT 5 request/response live under ``<base_topic>/_reply/``;
#: the leading underscore keeps them clear of device ids.
REPLY_SEGMENT = "_reply"


def base(base_topic: str, device_id: str) -> str:
    """Return ``<base_topic>/<device_id>``."""
    return f"{base_topic}/{device_id}"


def state_topic(base_: str, name: str) -> str:
    """Return a topic the engine publishes, e.g. ``lightbox/kitchen/health``."""
    return f"{base_}/{name}"


def under_base(base_: str) -> str:
    """Return the filter for every topic one level under ``base_`` (``<base>/+``)."""
    return f"{base_}/+"


def name_under(base_: str, topic: str) -> str | None:
    """Return ``name`` for ``<base>/<name>`` (one level), else None."""
    prefix = base_ + "/"
    if not topic.startswith(prefix):
        return None
    name = topic[len(prefix):]
    return name if name and "/" not in name else None


def command(base_: str, action: str) -> str:
    """Return the command topic for ``action`` (``set`` or one of COMMANDS)."""
    if action == "set":
        return f"{base_}/set"
    if action not in COMMANDS:
        raise ValueError(f"unknown command action {action!r}")
    return f"{base_}/cmd/{action}"


def all_base(base_topic: str) -> str:
    """Return the fleet-wide base ``<base_topic>/all``."""
    return f"{base_topic}/all"


def group_base(base_topic: str, group: str) -> str:
    """Return the group base ``<base_topic>/group/<group>``."""
    return f"{base_topic}/group/{group}"


def reply_prefix(base_topic: str, client: str) -> str:
    """Return a response-topic prefix for a requesting client."""
    return f"{base_topic}/{REPLY_SEGMENT}/{client}"


def reply_topic(base_topic: str, client: str, request: str) -> str:
    """Return one request's Response Topic, ``<base_topic>/_reply/<client>/<request>``."""
    return f"{reply_prefix(base_topic, client)}/{request}"


def retained_topics(base_: str) -> list[str]:
    """Return every retained topic under ``base_``, ``status`` last.

    The order for clearing them (``lightbox decommission``): whoever watches
    ``status`` sees the box online until the rest is gone.
    """
    return [state_topic(base_, n) for n in RETAINED if n != "status"] + [
        state_topic(base_, "status")]


#: The longest Response Topic the engine answers on, in UTF-8 bytes (MQTT allows 65,535).
MAX_REPLY_TOPIC_BYTES = 256


def reply_topic_problem(topic: str, base_topic: str, discovery_prefix: str) -> str | None:
    """Return why the engine may not publish a reply on ``topic``, or None when it may.

    Replies go to ``<base_topic>/_reply/...`` or to a topic outside both the base
    topic and the discovery prefix; never onto a topic the engine publishes, another
    box's or fleet topics, Home Assistant's topics, broker (``$``) topics, a filter
    with wildcards, an empty topic or an absurdly long one.
    """
    where = f"the Response Topic {_shown(topic)}"
    hint = f"; reply topics belong under {base_topic}/{REPLY_SEGMENT}/"
    if not topic:
        return f"the Response Topic is empty{hint}"
    if len(topic.encode("utf-8", "surrogatepass")) > MAX_REPLY_TOPIC_BYTES:
        return f"the Response Topic is longer than {MAX_REPLY_TOPIC_BYTES} bytes{hint}"
    if "+" in topic or "#" in topic:
        return f"{where} contains an MQTT wildcard (+ or #){hint}"
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or 0xD800 <= ord(c) < 0xE000 for c in topic):
        return f"{where} contains a control character{hint}"
    if topic.startswith("$"):
        return f"{where} is a broker topic (starts with $){hint}"
    if _under(topic, base_topic):
        reply_root = f"{base_topic}/{REPLY_SEGMENT}/"
        if topic.startswith(reply_root) and len(topic) > len(reply_root):
            return None
        return f"{where} is a LightBox topic, not a reply topic{hint}"
    if _under(topic, discovery_prefix):
        return f"{where} is under the Home Assistant discovery prefix {discovery_prefix}/{hint}"
    return None


def _under(topic: str, prefix: str) -> bool:
    """True when ``topic`` is ``prefix`` or a topic below it."""
    return topic == prefix or topic.startswith(prefix + "/")


def _shown(topic: str, limit: int = 80) -> str:
    """Quote a topic for a message: escaped, and cut at ``limit`` characters."""
    return repr(topic if len(topic) <= limit else topic[:limit] + "...")


def discovery(discovery_prefix: str, device_id: str) -> str:
    """Return the Home Assistant device-discovery config topic."""
    return f"{discovery_prefix}/device/lightbox_{device_id}/config"


def ha_status(discovery_prefix: str) -> str:
    """Return Home Assistant's birth/will topic."""
    return f"{discovery_prefix}/status"


@dataclass(frozen=True)
class Subscriptions:
    """The topic filters an engine subscribes to and how to map a topic to an action."""

    bases: tuple[str, ...]

    def filters(self) -> list[str]:
        """Return the subscription filters (``set``, ``cmd/+`` and the two-level commands,
        such as ``cmd/notify/dismiss``, under each base)."""
        out = []
        for b in self.bases:
            out.append(f"{b}/set")
            out.append(f"{b}/cmd/+")
            out += [f"{b}/cmd/{a}" for a in COMMANDS if "/" in a]
        return out

    def action(self, topic: str) -> str | None:
        """Return the action for a command topic, or None when it is not one of ours."""
        for b in self.bases:
            if not topic.startswith(b + "/"):
                continue
            rest = topic[len(b) + 1 :]
            if rest == "set":
                return "set"
            if rest.startswith("cmd/"):
                return rest[4:]
        return None


def engine_subscriptions(base_topic: str, device_id: str, groups: list[str]) -> Subscriptions:
    """Return the command bases an engine listens on: its own, ``all`` and its groups."""
    bases = [base(base_topic, device_id), all_base(base_topic)]
    bases += [group_base(base_topic, g) for g in groups]
    return Subscriptions(tuple(bases))
