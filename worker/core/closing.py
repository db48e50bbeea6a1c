"""Closing an async iterator at once.

A stream transform written as an async generator does not close the iterator it reads when it is
closed itself: the inner generator (and the upstream HTTP stream under it) would linger until the
garbage collector's finalizer gets round to it. Every transform therefore closes its source in a
`finally`, so that a retry or a client disconnect releases the upstream connection immediately.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any


async def close(iterator: AsyncIterator[Any]) -> None:
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()
