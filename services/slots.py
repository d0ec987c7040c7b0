"""The process's analysis slots: how many photos, video probes and stored frames are decoded at once, and how
many of those one user may hold, so that the memory requests take together stays bounded and one account's slow
requests never leave the others waiting."""

from __future__ import annotations

import threading
import time
from collections import Counter


class AnalysisSlots:
    """`total` slots shared by the process's threads; one user holds at most `per_user` of them. A user's count
    is dropped when they hold none, so the bookkeeping grows with the requests in flight, not with the users."""

    def __init__(self, total: int, per_user: int) -> None:
        self.total, self.per_user = total, per_user
        self._held_by_user: Counter[int | None] = Counter()
        self._changed = threading.Condition()

    def acquire(self, user_id: int | None, timeout: float) -> bool:
        """Take a slot for `user_id` (None: a request of no account), waiting up to `timeout` seconds for one;
        False when none freed up in time."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not self._free_for(user_id):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
            self._held_by_user[user_id] += 1
            return True

    def release(self, user_id: int | None) -> None:
        """Give back a slot `user_id` took."""
        with self._changed:
            self._held_by_user[user_id] -= 1
            if self._held_by_user[user_id] <= 0:
                del self._held_by_user[user_id]
            self._changed.notify_all()

    def held(self) -> int:
        """The slots held now."""
        with self._changed:
            return sum(self._held_by_user.values())

    def _free_for(self, user_id: int | None) -> bool:
        if sum(self._held_by_user.values()) >= self.total:
            return False
        return user_id is None or self._held_by_user[user_id] < self.per_user
