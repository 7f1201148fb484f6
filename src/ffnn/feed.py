"""A feed: the latest state of something that changes (a training run), read by any number of
pages as server-sent events, without the writer ever waiting for a reader.

The state is a set of named *parts*, each JSON text encoded once when published:

- ``set(name, value)`` replaces a part (the training's progress, the latest weights);
- ``append(name, value, limit)`` adds an item to a list part (one row per epoch; past ``limit``
  items, every other one is dropped), ``replace(name, items)`` starts the list again.

A reader calls :meth:`Feed.events`: it first receives every part (a page opened late sees the
whole run), then only what changed since its last message, at most one message every
``min_interval`` seconds — parts set several times in between are sent once, with their latest
value, so a reader costs the writer nothing whatever the rate of publication. Each message is
one server-sent event per changed part::

    event: progress
    data: {"epoch": 3, "batch": 120, ...}

and, for a list part, ``data: {"from": k, "items": [...]}``: the items from index k on (k = 0
means "the whole list": the page replaces what it had). A comment line (``: keep-alive``) is sent
after ``heartbeat`` seconds of silence, so a closed connection is noticed and idle proxies keep it.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Iterator
from typing import Any


class Feed:
    """Named parts of a state, published by one writer, streamed to many readers (module docstring)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._version = 0  # increases with every change
        self._parts: dict[str, tuple[int, str]] = {}  # name → (version of its last change, JSON text)
        self._lists: dict[str, tuple[int, int, list[str]]] = {}  # name → (version, generation, items)
        self._closed = False

    def set(self, name: str, value: Any) -> None:
        """Replace the part ``name`` by ``value`` (JSON-able, finite)."""
        text = _encode(value)
        with self._changed:
            self._version += 1
            self._parts[name] = (self._version, text)
            self._changed.notify_all()

    def append(self, name: str, value: Any, limit: int | None = None) -> bool:
        """Add ``value`` to the list part ``name`` (created empty if new). With a ``limit``, a list
        that grows past it keeps every other item, and readers receive it whole again: a chart of
        a run of any length stays bounded. True when the list was thinned so."""
        text = _encode(value)
        with self._changed:
            self._version += 1
            _, generation, items = self._lists.get(name, (0, 0, []))
            items.append(text)
            thinned = limit is not None and len(items) > limit
            if thinned:
                items, generation = items[::2], generation + 1
            self._lists[name] = (self._version, generation, items)
            self._changed.notify_all()
        return thinned

    def replace(self, name: str, values: list[Any]) -> None:
        """Start the list part ``name`` again, holding ``values``."""
        texts = [_encode(v) for v in values]
        with self._changed:
            self._version += 1
            generation = self._lists[name][1] + 1 if name in self._lists else 0
            self._lists[name] = (self._version, generation, texts)
            self._changed.notify_all()

    def close(self) -> None:
        """End every reader's stream (after it has sent what is published)."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    def events(self, min_interval: float = 0.1, heartbeat: float = 10.0) -> Iterator[bytes]:
        """Server-sent events for one reader: everything, then the changes, until :meth:`close`."""
        seen = -1  # the version this reader has
        sent_lists: dict[str, tuple[int, int]] = {}  # name → (generation, items sent)
        while True:
            with self._changed:
                self._changed.wait_for(functools.partial(self._has_news, seen), timeout=heartbeat)
                message = self._changes_since(seen, sent_lists)
                seen, closed = self._version, self._closed
            yield message or b": keep-alive\n\n"
            if closed:
                return
            time.sleep(min_interval)  # the throttle: what is published meanwhile goes in the next message

    def _has_news(self, seen: int) -> bool:
        return self._version != seen or self._closed

    def _changes_since(self, seen: int, sent_lists: dict[str, tuple[int, int]]) -> bytes:
        events = [f"event: {name}\ndata: {text}\n\n" for name, (version, text) in self._parts.items() if version > seen]
        for name, (version, generation, items) in self._lists.items():
            if version <= seen:
                continue
            sent_generation, count = sent_lists.get(name, (-1, 0))
            start = count if sent_generation == generation else 0
            events.append(f'event: {name}\ndata: {{"from": {start}, "items": [{", ".join(items[start:])}]}}\n\n')
            sent_lists[name] = (generation, len(items))
        return "".join(events).encode()


def _encode(value: Any) -> str:
    """Compact JSON text of ``value``; NaN and inf are refused (a page's JSON cannot hold them)."""
    return json.dumps(value, allow_nan=False, separators=(",", ":"))
