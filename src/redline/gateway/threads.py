"""Blocking work (the stores, the classifier) off the event loop, on one shared pool.

`asyncio`'s executor hop costs a fraction of anyio's `run_in_threadpool`
(docs/measurements.md), and a chat request makes three of them. The context is copied,
as anyio does, so context variables set by a route reach the work.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

# anyio's default limit: enough for SQLite's single writer to batch under load.
_POOL = ThreadPoolExecutor(max_workers=40, thread_name_prefix="redline-work")


async def in_thread(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """`fn(*args, **kwargs)` on the shared worker pool, awaited."""
    call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_POOL, call)
