"""The per-user pause between questions."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["Cooldowns"]


class Cooldowns:
    """Per-user pause between questions (an in-memory clock; resets on restart).

    Pauses that have run out are pruned whenever the table has doubled since the last
    prune, so it holds about the users who asked within the last pause, however many
    asked over the bot's lifetime."""

    def __init__(
        self, seconds: float, clock: Callable[[], float] = time.monotonic, *, prune_at: int = 256
    ) -> None:
        self._seconds = seconds
        self._clock = clock
        self._last: dict[int, float] = {}
        self._min_prune_at = prune_at
        self._prune_at = prune_at

    def __len__(self) -> int:
        """How many users the table holds now."""
        return len(self._last)

    def remaining(self, user_id: int) -> float:
        """Seconds the user must still wait; 0 starts a new pause."""
        if self._seconds <= 0:
            return 0.0
        now = self._clock()
        last = self._last.get(user_id)
        if last is not None and now - last < self._seconds:
            return self._seconds - (now - last)
        self._last[user_id] = now
        if len(self._last) >= self._prune_at:
            self._prune(now)
        return 0.0

    def _prune(self, now: float) -> None:
        self._last = {u: t for u, t in self._last.items() if now - t < self._seconds}
        self._prune_at = max(self._min_prune_at, 2 * len(self._last))
