"""The production broker config refuses anonymous clients and enforces the ACL for each user.

Runs the mosquitto that the test suite starts from deploy/mosquitto (on a free
port) and logs in with real paho MQTT 5 clients as every user of the ACL.
mosquitto silently drops an unauthorized QoS 0 publish; at QoS 1 over MQTT 5
the PUBACK carries 0x87 (Not authorized), so each case asserts on the reason
code AND on whether a subscriber that may read the topic gets the message.

Each box logs in as its own user, named after its device id: box ``acltest``
(DEV) must work fully and must not speak for, nor read the commands of, box
``aclother`` (OTHER) on the same broker.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from appliance.ops.broker import USERS, LocalBroker, acl_users, deploy_dir, free_port, port_open
from appliance.settings import RESERVED_IDS, SettingsError, validate
from appliance.wire import topics
from tests.conftest import need

pytestmark = pytest.mark.integration

NOT_AUTHORIZED = 0x87
DEV = "acltest"
OTHER = "aclother"


class Client:
    """A paho MQTT 5 client that records messages and PUBACK reason codes."""

    def __init__(self, broker: LocalBroker, user: str | None, password: str | None = None
                 ) -> None:
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"acl-{uuid.uuid4().hex[:8]}",
                             protocol=MQTTProtocolVersion.MQTTv5)
        if user is not None:
            self.c.username_pw_set(user, password if password is not None
                                   else broker.passwords[user])
        self.broker = broker
        self.cond = threading.Condition()
        self.got: list[tuple[str, bytes]] = []
        self.acks: dict[int, int] = {}
        self.suback: list[int] = []
        self.connack: Any = None
        self.connected = threading.Event()
        self.c.on_connect = self._on_connect
        self.c.on_message = self._on_message
        self.c.on_publish = self._on_publish
        self.c.on_subscribe = self._on_subscribe

    def _on_connect(self, c: Any, u: Any, f: Any, rc: Any, p: Any) -> None:
        self.connack = rc
        self.connected.set()

    def _on_message(self, c: Any, u: Any, msg: mqtt.MQTTMessage) -> None:
        with self.cond:
            self.got.append((msg.topic, bytes(msg.payload)))
            self.cond.notify_all()

    def _on_publish(self, c: Any, u: Any, mid: int, rc: Any, p: Any) -> None:
        with self.cond:
            self.acks[mid] = rc.value
            self.cond.notify_all()

    def _on_subscribe(self, c: Any, u: Any, mid: int, rcs: Any, p: Any) -> None:
        with self.cond:
            self.suback = [r.value for r in rcs]
            self.cond.notify_all()

    def connect(self) -> Client:
        self.c.connect(self.broker.host, self.broker.port, keepalive=30)
        self.c.loop_start()
        assert self.connected.wait(5), "no CONNACK"
        return self

    def subscribe(self, topic: str) -> list[int]:
        with self.cond:
            self.suback = []
        self.c.subscribe(topic, qos=1)
        with self.cond:
            self.cond.wait_for(lambda: self.suback, timeout=5)
            return list(self.suback)

    def publish(self, topic: str, payload: bytes) -> int:
        info = self.c.publish(topic, payload, qos=1)
        with self.cond:
            assert self.cond.wait_for(lambda: info.mid in self.acks, timeout=5), "no PUBACK"
            return self.acks[info.mid]

    def saw(self, payload: bytes, timeout_s: float) -> bool:
        with self.cond:
            return bool(self.cond.wait_for(lambda: any(p == payload for _, p in self.got),
                                           timeout=timeout_s))

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture
def client(broker: LocalBroker) -> Iterator[Any]:
    made: list[Client] = []

    def make(user: str | None, password: str | None = None) -> Client:
        if user in (DEV, OTHER):
            broker.add_device(user)
        cl = Client(broker, user, password).connect()
        made.append(cl)
        return cl

    yield make
    for cl in made:
        cl.close()


def test_acl_names_every_broker_user() -> None:
    assert sorted(acl_users()) == sorted(USERS)


def test_no_box_can_take_a_service_users_name() -> None:
    """The box patterns apply to every user: a service user's name is never a device id."""
    assert set(acl_users()) <= RESERVED_IDS
    assert "lightbox-engine" in RESERVED_IDS  # the old shared login, gone since
    for name in acl_users():
        with pytest.raises(SettingsError, match="device_id"):
            validate({"device_id": name})


#: Command topics one `+` does not cover (``cmd/notify/dismiss``): written by HA and the bridge.
TWO_LEVEL_COMMANDS = tuple(f"/cmd/{a}" for a in topics.COMMANDS if "/" in a)


def test_every_topic_the_engine_publishes_has_a_per_box_pattern() -> None:
    text = (deploy_dir() / "acl").read_text(encoding="utf-8")
    patterns = {line.split()[-1] for line in text.splitlines() if line.startswith("pattern write")}
    own = set(topics.RETAINED) | {"events", "response", "preview"}
    assert {f"lightbox/%u/{name}" for name in own} <= patterns
    assert topics.discovery("homeassistant", "%u") in patterns
    shared = [ln for ln in text.splitlines() if ln.startswith("topic write lightbox/+/")
              and not ln.endswith(("/set", "/cmd/+", *TWO_LEVEL_COMMANDS))]
    assert not shared, f"a write of every box's topics is back: {shared}"


@pytest.mark.parametrize("user,password", [(None, None), ("lightbox-monitor", "wrong"),
                                           ("nobody", "x"), ("", "")])
def test_anonymous_and_bad_logins_refused(client: Any, user: str | None,
                                          password: str | None) -> None:
    cl = client(user, password)
    assert cl.connack.is_failure, f"{user!r} was let in"
    assert cl.connack.value in (0x86, 0x87, 0x84), str(cl.connack)


# (publisher, topic, allowed). The watcher is homeassistant (reads lightbox/# and
# homeassistant/#), so a delivered message proves the broker accepted it.
WRITES = [
    *[(DEV, f"lightbox/{DEV}/{name}", True) for name in (*topics.RETAINED, "events", "response",
                                                          "preview")],
    (DEV, "lightbox/_reply/someone", True),
    (DEV, f"homeassistant/device/lightbox_{DEV}/config", True),
    (DEV, f"lightbox/{DEV}/set", False),
    (DEV, f"lightbox/{DEV}/cmd/animation", False),
    (DEV, "lightbox/all/cmd/power", False),
    (DEV, "lightbox/group/kitchen/cmd/power", False),
    (DEV, "homeassistant/status", False),
    (DEV, "homeassistant/light/other/config", False),
    # Box A's login cannot speak for box B: not its status, state, health, nor discovery.
    (DEV, f"lightbox/{OTHER}/status", False),
    (DEV, f"lightbox/{OTHER}/state", False),
    (DEV, f"lightbox/{OTHER}/health", False),
    (DEV, f"lightbox/{OTHER}/metrics", False),
    (DEV, f"lightbox/{OTHER}/info", False),
    (DEV, f"lightbox/{OTHER}/config", False),
    (DEV, f"lightbox/{OTHER}/events", False),
    (DEV, f"lightbox/{OTHER}/set", False),
    (DEV, f"lightbox/{OTHER}/cmd/config", False),
    (DEV, f"homeassistant/device/lightbox_{OTHER}/config", False),
    (DEV, "lightbox/all/status", False),
    (OTHER, f"lightbox/{OTHER}/status", True),
    (OTHER, f"lightbox/{DEV}/status", False),
    # The service users' names are no box: the patterns give them nothing that counts.
    ("lightbox-monitor", "lightbox/_reply/someone", False),
    ("lightbox-monitor", "lightbox/lightbox-monitor/status", False),
    ("lightbox-monitor", "homeassistant/device/lightbox_lightbox-monitor/config", False),
    ("lightbox-bridge", f"lightbox/{DEV}/events", False),
    ("lightbox-bridge", f"lightbox/{DEV}/set", True),
    ("lightbox-bridge", f"lightbox/{DEV}/cmd/animation", True),
    ("lightbox-bridge", "lightbox/all/cmd/brightness", True),
    ("lightbox-bridge", "lightbox/group/kitchen/cmd/power", True),
    ("lightbox-bridge", f"lightbox/{DEV}/state", False),
    ("lightbox-bridge", f"lightbox/{DEV}/status", False),
    ("lightbox-bridge", f"lightbox/{DEV}/health", False),
    ("lightbox-bridge", f"homeassistant/device/lightbox_{DEV}/config", False),
    ("lightbox-monitor", f"lightbox/{DEV}/cmd/animation", False),
    ("lightbox-monitor", f"lightbox/{DEV}/set", False),
    ("lightbox-monitor", f"lightbox/{DEV}/health", False),
    ("lightbox-monitor", f"lightbox/{DEV}/status", False),
    ("homeassistant", f"lightbox/{DEV}/set", True),
    ("homeassistant", f"lightbox/{DEV}/cmd/notify/dismiss", True),
    ("homeassistant", "lightbox/all/cmd/notify/dismiss", True),
    ("homeassistant", "lightbox/group/kitchen/cmd/notify/dismiss", True),
    ("lightbox-bridge", f"lightbox/{DEV}/cmd/notify/dismiss", True),
    ("lightbox-bridge", "lightbox/group/kitchen/cmd/notify/dismiss", True),
    ("lightbox-monitor", f"lightbox/{DEV}/cmd/notify/dismiss", False),
    (DEV, f"lightbox/{DEV}/cmd/notify/dismiss", False),
    (DEV, f"lightbox/{OTHER}/cmd/notify/dismiss", False),
    ("homeassistant", f"lightbox/{DEV}/cmd/identify", True),
    ("homeassistant", "homeassistant/status", True),
    ("homeassistant", f"lightbox/{DEV}/status", False),
    ("homeassistant", f"lightbox/{DEV}/state", False),
    ("homeassistant", f"lightbox/{DEV}/health", False),
]


@pytest.mark.parametrize("user,topic,allowed", WRITES,
                         ids=[f"{u}-{'may' if a else 'not'}-{t}" for u, t, a in WRITES])
def test_write_acl(client: Any, user: str, topic: str, allowed: bool) -> None:
    watcher = client("homeassistant")
    watcher.subscribe(topic)
    payload = f"acl-{uuid.uuid4().hex}".encode()
    code = client(user).publish(topic, payload)
    if allowed:
        assert code < 0x80, f"{user} should publish {topic}; PUBACK {code:#x}"
        assert watcher.saw(payload, 3), f"{topic} from {user} never arrived"
    else:
        assert code == NOT_AUTHORIZED, f"{user} must not publish {topic}; PUBACK {code:#x}"
        assert not watcher.saw(payload, 0.5), f"{topic} from {user} was delivered"


# (reader, topic, allowed, writer)
READS = [
    ("lightbox-monitor", f"lightbox/{DEV}/health", True, DEV),
    ("lightbox-monitor", f"lightbox/{DEV}/status", True, DEV),
    ("lightbox-monitor", f"lightbox/{DEV}/metrics", True, DEV),
    ("lightbox-monitor", f"lightbox/{DEV}/state", False, DEV),
    ("lightbox-monitor", f"lightbox/{DEV}/cmd/animation", False, "homeassistant"),
    ("lightbox-monitor", "lightbox/all/cmd/animation", False, "homeassistant"),
    ("lightbox-monitor", "lightbox/group/kitchen/cmd/power", False, "homeassistant"),
    ("lightbox-monitor", "lightbox/_reply/bridge-1", False, DEV),
    ("lightbox-monitor", "homeassistant/status", False, "homeassistant"),
    (DEV, f"lightbox/{DEV}/cmd/animation", True, "homeassistant"),
    (DEV, f"lightbox/{DEV}/set", True, "lightbox-bridge"),
    (DEV, "lightbox/all/cmd/brightness", True, "homeassistant"),
    (DEV, "lightbox/all/set", True, "lightbox-bridge"),
    (DEV, "lightbox/group/kitchen/cmd/power", True, "homeassistant"),
    (DEV, "lightbox/group/kitchen/set", True, "lightbox-bridge"),
    (DEV, "homeassistant/status", True, "homeassistant"),
    (DEV, f"lightbox/{DEV}/cmd/notify/dismiss", True, "homeassistant"),
    (DEV, "lightbox/all/cmd/notify/dismiss", True, "lightbox-bridge"),
    (DEV, "lightbox/group/kitchen/cmd/notify/dismiss", True, "homeassistant"),
    (DEV, f"lightbox/{OTHER}/cmd/notify/dismiss", False, "homeassistant"),
    # Box A reads none of box B's own commands, nor anything box B publishes.
    (DEV, f"lightbox/{OTHER}/cmd/animation", False, "homeassistant"),
    (DEV, f"lightbox/{OTHER}/cmd/config", False, "lightbox-bridge"),
    (DEV, f"lightbox/{OTHER}/set", False, "lightbox-bridge"),
    (DEV, f"lightbox/{OTHER}/state", False, OTHER),
    (DEV, f"lightbox/{OTHER}/config", False, OTHER),
    (DEV, "lightbox/_reply/bridge-1", False, OTHER),
    (OTHER, f"lightbox/{OTHER}/cmd/animation", True, "homeassistant"),
    ("lightbox-bridge", f"lightbox/{DEV}/state", True, DEV),
    ("lightbox-bridge", "lightbox/_reply/bridge-1", True, DEV),
    ("lightbox-bridge", "homeassistant/status", False, "homeassistant"),
    ("homeassistant", f"homeassistant/device/lightbox_{DEV}/config", True, DEV),
    ("homeassistant", f"lightbox/{DEV}/health", True, DEV),
]


@pytest.mark.parametrize("user,topic,allowed,writer", READS,
                         ids=[f"{u}-{'may' if a else 'not'}-read-{t}" for u, t, a, _ in READS])
def test_read_acl(client: Any, user: str, topic: str, allowed: bool, writer: str) -> None:
    reader = client(user)
    reader.subscribe(topic)
    payload = f"acl-{uuid.uuid4().hex}".encode()
    assert client(writer).publish(topic, payload) < 0x80, f"{writer} could not write {topic}"
    if allowed:
        assert reader.saw(payload, 3), f"{user} should read {topic}"
    else:
        assert not reader.saw(payload, 0.7), f"{user} must not read {topic}"


def test_production_dropin_starts_beside_debians_main_config(tmp_path: Path) -> None:
    """Debian's mosquitto.conf + our conf.d drop-in: no duplicate option stops the broker."""
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    need("mosquitto", Path(exe).exists(), "apt-get install mosquitto")
    main = Path("/etc/mosquitto/mosquitto.conf")
    debian = main.read_text() if main.exists() else (
        "pid_file /run/mosquitto/mosquitto.pid\npersistence true\n"
        "persistence_location /var/lib/mosquitto/\n"
        "log_dest file /var/log/mosquitto/mosquitto.log\ninclude_dir /etc/mosquitto/conf.d\n")
    for d in ("conf.d", "data", "lightbox"):
        (tmp_path / d).mkdir()
    conf = (debian.replace("/run/mosquitto/", f"{tmp_path}/")
            .replace("/var/lib/mosquitto/", f"{tmp_path}/data/")
            .replace("/var/log/mosquitto/", f"{tmp_path}/")
            .replace("/etc/mosquitto/conf.d", f"{tmp_path}/conf.d"))
    assert "persistence_location" in conf
    port = free_port()
    dropin = ((deploy_dir() / "lightbox.conf").read_text()
              .replace("/etc/mosquitto/lightbox/", f"{tmp_path}/lightbox/")
              .replace("listener 1883 127.0.0.1", f"listener {port} 127.0.0.1"))
    (tmp_path / "conf.d" / "lightbox.conf").write_text(dropin + "user root\n")
    (tmp_path / "lightbox" / "acl").write_text((deploy_dir() / "acl").read_text())
    pw = tmp_path / "lightbox" / "passwd"
    pw.touch(mode=0o600)
    subprocess.run(["mosquitto_passwd", "-b", str(pw), "lightbox-monitor", "pw"], check=True)
    (tmp_path / "main.conf").write_text(conf)
    p = subprocess.Popen([exe, "-c", str(tmp_path / "main.conf")], stderr=subprocess.PIPE,
                         stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 5
        while not port_open(port) and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        log = (tmp_path / "mosquitto.log").read_text() if (tmp_path / "mosquitto.log").exists() \
            else ""
        assert p.poll() is None, f"mosquitto refused the config: {log}"
        assert port_open(port), log
    finally:
        p.terminate()
        p.wait(5)
    # A second persistence_location (the trap this file avoids) is fatal:
    (tmp_path / "conf.d" / "dup.conf").write_text(f"persistence_location {tmp_path}/data/\n")
    r = subprocess.run([exe, "-c", str(tmp_path / "main.conf")], capture_output=True, timeout=10)
    assert r.returncode != 0
    assert b"Duplicate persistence_location" in r.stdout + r.stderr


def test_one_boxs_login_cannot_fake_another(broker: LocalBroker, client: Any) -> None:
    """Two boxes set up as the engines are (tests.support): A's login is A's alone."""
    from tests.support import engine_settings

    a, b = (engine_settings(broker, dev)["mqtt"] for dev in ("fleet-a", "fleet-b"))
    assert a["username"] != b["username"]
    box_a = client(a["username"], Path(a["password_file"]).read_text().strip())
    watcher = client("homeassistant")
    for topic in ("lightbox/fleet-b/status", "lightbox/fleet-b/state",
                  "homeassistant/device/lightbox_fleet-b/config"):
        watcher.subscribe(topic)
        assert box_a.publish(topic, b"offline") == NOT_AUTHORIZED, topic
    assert box_a.publish("lightbox/fleet-a/status", b"online") < 0x80
    assert not watcher.saw(b"offline", 0.5)
    # Nor does A hear what is said to B alone.
    box_a.subscribe("lightbox/fleet-b/cmd/+")
    assert client("homeassistant").publish("lightbox/fleet-b/cmd/identify", b"{}") < 0x80
    assert not box_a.saw(b"{}", 0.7)
