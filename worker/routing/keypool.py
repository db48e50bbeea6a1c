"""Rotation of several API keys for one upstream target: least recently used first, with rests.

A key that the upstream refused (401, 403) or rate limited (429) rests for `KEY_COOLDOWN` seconds
while the others carry the traffic. When every key is resting, the one whose rest ends first is used
anyway: a target with a single key must stay usable, and the retry loop's backoff already paces it.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable


class KeyPool:
    __slots__ = ("_clock", "_cooldown", "_keys", "_last_used", "_resting_until", "_tick")

    def __init__(
        self, keys: tuple[str, ...], cooldown: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._keys = keys
        self._cooldown = cooldown
        self._clock = clock
        # A counter, not the clock, orders uses: two picks within one clock tick must still rotate.
        self._tick = itertools.count(1)
        self._last_used = dict.fromkeys(keys, 0)
        self._resting_until = dict.fromkeys(keys, 0.0)

    def __len__(self) -> int:
        return len(self._keys)

    def acquire(self) -> str:
        """The key to use now ('' when the target has none), marked as just used."""
        if not self._keys:
            return ""
        now = self._clock()
        fresh = [k for k in self._keys if self._resting_until[k] <= now]
        if fresh:
            key = min(fresh, key=self._last_used.__getitem__)
        else:
            key = min(self._keys, key=self._resting_until.__getitem__)
        self._last_used[key] = next(self._tick)
        return key

    def rest(self, key: str) -> None:
        if key in self._resting_until:
            self._resting_until[key] = self._clock() + self._cooldown

    def fresh_count(self) -> int:
        now = self._clock()
        return sum(1 for k in self._keys if self._resting_until[k] <= now)

    def has_fresh(self) -> bool:
        return self.fresh_count() > 0
