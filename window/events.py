"""A tiny in-process event bus: feeds and sessions publish, WebSocket clients subscribe.

Each subscriber gets a bounded queue; one that does not keep up loses its oldest events rather
than holding memory or slowing the publisher.
"""

from __future__ import annotations

import asyncio
from typing import Any

Event = dict[str, Any]


class EventBus:
    def __init__(self, maxlen: int = 256) -> None:
        self._subscribers: set[asyncio.Queue[Event]] = set()
        self._maxlen = maxlen

    def subscribe(self) -> asyncio.Queue[Event]:
        q: asyncio.Queue[Event] = asyncio.Queue(self._maxlen)
        self._subscribers.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[Event]) -> None:
        self._subscribers.discard(q)

    def publish(self, event: Event) -> None:
        for q in list(self._subscribers):
            if q.full():
                q.get_nowait()
            q.put_nowait(event)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)
