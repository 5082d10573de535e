"""Values computed once per live object: what the grader keeps across submissions.

Public cases, their encoded tasks, their reference answers and the verdicts on replies
seen before are the same objects for every student a process grades, so each is
worked out once. Entries are found by the objects' ids and kept only while they are
the very same objects: an id is never mistaken for a later object's, because the
entry holds on to the objects it was made for.
"""

from __future__ import annotations

import operator
from typing import Any, Callable, Hashable, TypeVar

T = TypeVar("T")


class IdentityMemo:
    """``get(objects, make)``: ``make()``'s value, made once per tuple of live objects
    (plus an optional hashable ``extra`` part of the key). With a ``limit``, a full memo
    starts over: only a caller that keeps making new objects ever fills one."""

    def __init__(self, limit: int | None = None):
        self.limit = limit
        self._entries: dict[tuple, tuple[tuple, Any]] = {}

    def get(self, objects: tuple, make: Callable[[], T], extra: Hashable = None) -> T:
        key = (*map(id, objects), extra)
        hit = self._entries.get(key)
        if hit is not None and all(map(operator.is_, hit[0], objects)):
            return hit[1]
        if self.limit is not None and len(self._entries) >= self.limit:
            self._entries.clear()
        value = make()
        self._entries[key] = (objects, value)
        return value
