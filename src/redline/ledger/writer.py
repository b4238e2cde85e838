"""Group commit with one writer at a time: callers queue, a batch commits in one transaction,
and each caller returns only once its batch is committed: on disk, or, for an append that
asked for no durability of its own, written for a later durable commit or sync to cover.

There is no writer thread. A caller that finds nobody writing becomes the writer: it
commits everything queued (in order, its own job among it) in its own thread, and whoever
queued meanwhile waits for the next writer, usually one of them. So an append nobody
competes with costs no hand-over between threads, and under load appends still share
commits.
The database connection is used by one thread at a time, never by two at once.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from redline.errors import StoreError

T = TypeVar("T")


@dataclass
class _Job:
    items: list[Any] | None  # an append, or None for a call
    call: Callable[[], Any] | None = None
    durable: bool = True
    done: bool = False
    result: Any = None
    error: BaseException | None = None


class BatchWriter:
    def __init__(
        self,
        commit: Callable[[list[Any], bool], list[int]],
        max_batch: int = 4096,
    ) -> None:
        self._commit = commit
        self._max = max_batch
        self._queue: deque[_Job] = deque()
        self._turn = threading.Condition()
        self._writing = False
        self._closed = False

    def append(self, items: list[Any], durable: bool = True) -> list[int]:
        """Commit `items` in a batch; the batch waits for the disk if any job in it must."""
        if not items:
            return []
        return list(self._submit(_Job(items, durable=durable)))

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` as the writer, between batches."""
        result: T = self._submit(_Job(None, fn))
        return result

    def _submit(self, job: _Job) -> Any:
        with self._turn:
            if self._closed:
                raise StoreError("the ledger is closed")
            self._queue.append(job)
            while not job.done:
                if self._writing:
                    self._turn.wait()
                    continue
                self._writing = True
                batch = self._take()
                self._turn.release()
                try:
                    self._write(batch)
                finally:
                    self._turn.acquire()
                    self._writing = False
                    self._turn.notify_all()
        if job.error is not None:
            raise job.error
        return job.result

    def _take(self) -> list[_Job]:
        """The next batch: one call alone, or the appends queued before the next call."""
        first = self._queue.popleft()
        if first.call is not None:
            return [first]
        batch, count = [first], len(first.items or [])
        while self._queue and self._queue[0].call is None and count < self._max:
            nxt = self._queue.popleft()
            batch.append(nxt)
            count += len(nxt.items or [])
        return batch

    def _write(self, batch: list[_Job]) -> None:
        try:
            if batch[0].call is not None:
                batch[0].result = batch[0].call()
            else:
                items = [it for j in batch for it in j.items or []]
                indexes = self._commit(items, any(j.durable for j in batch))
                start = 0
                for j in batch:
                    n = len(j.items or [])
                    j.result = indexes[start : start + n]
                    start += n
        except BaseException as exc:  # every caller of a failed batch learns it failed
            for j in batch:
                j.error = exc
        for j in batch:
            j.done = True

    def close(self) -> None:
        """Refuse new work; return once what was queued is written."""
        with self._turn:
            self._closed = True
            self._turn.wait_for(lambda: not self._queue and not self._writing, timeout=30)
