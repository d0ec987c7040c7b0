"""A process's cache of the values read most recently, each kept with the key it was made for."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any


class Recent:
    """A value per name with the key it was made for (a value whose key has changed since is not given), for the
    `capacity` names read most recently (one never read again goes in time); safe across a process's threads."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._kept: OrderedDict[Hashable, tuple[Any, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, name: Hashable, key: Any) -> Any | None:
        """The value kept for `name` if it was made for `key`, else None."""
        with self._lock:
            kept = self._kept.get(name)
            if kept is None or kept[0] != key:
                return None
            self._kept.move_to_end(name)
            return kept[1]

    def put(self, name: Hashable, key: Any, value: Any) -> None:
        with self._lock:
            self._kept[name] = (key, value)
            self._kept.move_to_end(name)
            while len(self._kept) > self.capacity:
                self._kept.popitem(last=False)
