"""Values computed once per live object: what the grader keeps across submissions.

Public cases, their encoded tasks, their reference answers and the verdicts on replies
seen before are the same objects for every student a process grades, so each is
worked out once. Entries are found by the objects' ids and kept only while they are
the very same objects: an id is never mistaken for a later object's, because the
entry holds on to the objects it was made for (or, for a ``weak`` one, dies with it).

What a student sends back is the one thing here a submission controls the size of, so
replies are kept in a ``ReplyMemo``, bounded by bytes, not entries.
"""

from __future__ import annotations

import operator
import threading
import weakref
from collections import OrderedDict
from typing import Any, Callable, Hashable, TypeVar

T = TypeVar("T")


class IdentityMemo:
    """``get(objects, make)``: ``make()``'s value, made once per tuple of live objects
    (plus an optional hashable ``extra`` part of the key). With a ``limit``, a full memo
    starts over: only a caller that keeps making new objects ever fills one. With
    ``weak`` (an index into ``objects``), that object is not kept alive by the memo: its
    entry goes when it goes (so a memo keyed on replies lives no longer than they do)."""

    def __init__(self, limit: int | None = None, weak: int | None = None):
        self.limit = limit
        self.weak = weak
        self._entries: dict[tuple, tuple[tuple, Any]] = {}

    def get(self, objects: tuple, make: Callable[[], T], extra: Hashable = None) -> T:
        key = (*map(id, objects), extra)
        hit = self._entries.get(key)
        if hit is not None and all(map(operator.is_, self._live(hit[0]), objects)):
            return hit[1]
        if self.limit is not None and len(self._entries) >= self.limit:
            self._entries.clear()
        value = make()
        self._entries[key] = (self._held(objects, key), value)
        return value

    def __len__(self) -> int:
        return len(self._entries)

    def _held(self, objects: tuple, key: tuple) -> tuple:
        if self.weak is None:
            return objects
        entries = self._entries

        def forget(_ref, key=key):  # runs as the object dies, before its id can recur
            entries.pop(key, None)
        held = list(objects)
        held[self.weak] = weakref.ref(objects[self.weak], forget)
        return tuple(held)

    def _live(self, held: tuple) -> tuple:
        if self.weak is None:
            return held
        live = list(held)
        live[self.weak] = held[self.weak]()
        return tuple(live)


class ReplyMemo:
    """Up to ``per_key`` values per tuple of live objects, each found by the exact bytes
    it was made from, kept only while all of them together hold at most ``total_bytes``
    (the least recently used go first) and never for bytes over ``item_bytes``.

    Sized by bytes because the values (decoded replies) are views of their bytes, and
    a submission chooses how large its replies are: an entry count would let one
    student keep gigabytes alive for the rest of a batch.
    """

    def __init__(self, item_bytes: int, total_bytes: int, per_key: int):
        self.item_bytes, self.total_bytes, self.per_key = item_bytes, total_bytes, per_key
        self.bytes = 0  # held now, all keys together
        self._lock = threading.Lock()  # a submission's modules may be run by threads
        self._keys: dict[tuple, tuple[tuple, list[int]]] = {}  # ids -> (objects, serials)
        self._entries: OrderedDict[int, tuple[tuple, bytes, Any]] = OrderedDict()
        self._serial = 0

    def find(self, objects: tuple, data: bytes) -> Any | None:
        """The value kept for ``data`` under ``objects``, or None."""
        with self._lock:
            serials = self._serials(objects)
            for n in range(len(serials) - 1, -1, -1):  # the most recently used first
                _, known, value = self._entries[serials[n]]
                if known == data:  # bytes compare their lengths first
                    self._entries.move_to_end(serials[n])
                    serials.append(serials.pop(n))
                    return value
        return None

    def add(self, objects: tuple, data: bytes, value: Any) -> None:
        """Keep ``value`` for ``data`` under ``objects``, if it is small enough."""
        if not self.per_key or len(data) > min(self.item_bytes, self.total_bytes):
            return
        with self._lock:
            key = tuple(map(id, objects))
            serials = self._serials(objects)
            while len(serials) >= self.per_key:
                self._drop(serials[0])  # a key's serials are in use order
            self._keys[key] = (objects, serials)
            self._serial += 1
            serials.append(self._serial)
            self._entries[self._serial] = (key, data, value)
            self.bytes += self._size(data)
            while self.bytes > self.total_bytes:
                self._drop(next(iter(self._entries)))

    def __len__(self) -> int:
        return len(self._entries)

    def _serials(self, objects: tuple) -> list[int]:
        hit = self._keys.get(tuple(map(id, objects)))
        if hit is None or not all(map(operator.is_, hit[0], objects)):
            return []
        return hit[1]

    # What an entry costs besides its bytes (the decoded value's objects), so that
    # many tiny replies are bounded too.
    OVERHEAD = 512

    def _size(self, data: bytes) -> int:
        return len(data) + self.OVERHEAD

    def _drop(self, serial: int) -> None:
        key, data, _ = self._entries.pop(serial)
        self.bytes -= self._size(data)
        serials = self._keys[key][1]
        serials.remove(serial)
        if not serials:
            del self._keys[key]
