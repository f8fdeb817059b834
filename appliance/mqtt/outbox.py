"""The engine link's outbox: publishes handed from any thread to the mqtt-out thread.

Bounded; the newest state per key wins in place; full means the oldest is
dropped and counted. Knows nothing of paho, topics or the engine.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from appliance.mqtt.client import Properties

#: Messages waiting for the mqtt-out thread; past this the oldest is dropped (and counted).
OUTBOX_SIZE = 256


@dataclass
class Outgoing:
    """One message waiting in the outbox."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    properties: Properties | None = None


class Outbox:
    """Bounded hand-over of publishes from any thread to the link's sender thread.

    ``put`` never blocks on the network: it holds a plain lock for a dictionary
    update. A message with a ``key`` (retained documents, previews) replaces the
    waiting one of the same key in place, so the newest state wins and keeps its
    place in the order (a state queued before a reply still goes out before it).
    When full, the oldest message is dropped and counted.
    """

    def __init__(self, maxlen: int = OUTBOX_SIZE) -> None:
        self._items: OrderedDict[object, Outgoing] = OrderedDict()
        self._maxlen = maxlen
        self._cond = threading.Condition()
        self._seq = 0
        self._closed = False
        #: Messages dropped because the outbox was full.
        self.dropped = 0
        #: Messages a newer one of the same key replaced before they were sent.
        self.superseded = 0

    def put(self, msg: Outgoing, key: str | None = None) -> None:
        """Queue ``msg`` (replacing a waiting one with the same ``key``)."""
        with self._cond:
            if key is not None and key in self._items:
                self._items[key] = msg
                self.superseded += 1
                return
            if key is None:
                self._seq += 1
                slot: object = self._seq
            else:
                slot = key
            if len(self._items) >= self._maxlen:
                self._items.popitem(last=False)
                self.dropped += 1
            self._items[slot] = msg
            self._cond.notify()

    def take(self, timeout_s: float) -> list[Outgoing]:
        """Everything waiting, in order (waits up to ``timeout_s`` for something)."""
        with self._cond:
            if not self._items and not self._closed:
                self._cond.wait(timeout_s)
            items = list(self._items.values())
            self._items.clear()
            return items

    def close(self) -> None:
        """Wake the sender for good."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def __len__(self) -> int:
        return len(self._items)
