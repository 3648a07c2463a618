"""The per-user pause between questions."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["Cooldowns"]


class Cooldowns:
    """Per-user pause between questions (an in-memory clock; resets on restart)."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._seconds = seconds
        self._clock = clock
        self._last: dict[int, float] = {}

    def remaining(self, user_id: int) -> float:
        """Seconds the user must still wait; 0 starts a new pause."""
        if self._seconds <= 0:
            return 0.0
        now = self._clock()
        last = self._last.get(user_id)
        if last is not None and now - last < self._seconds:
            return self._seconds - (now - last)
        self._last[user_id] = now
        return 0.0
