"""Models a process loads once and shares between its threads (a web process's requests, a worker's jobs)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

Loaded = TypeVar("Loaded")


class OncePerProcess(Generic[Loaded]):
    """`load` as a function that loads on its first call and returns the same object after, to every thread: two
    jobs starting together load it once (`functools.cache` alone would let both load it, and keep one)."""

    def __init__(self, load: Callable[[], Loaded]) -> None:
        self._load = load
        self._loaded: Loaded | None = None
        self._lock = threading.Lock()
        functools.update_wrapper(self, load)

    def __call__(self) -> Loaded:
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load()
            return self._loaded

    def if_loaded(self) -> Loaded | None:
        """What was loaded, without loading it (nor waiting while another thread does); None before."""
        return self._loaded


once_per_process = OncePerProcess  # as a decorator
