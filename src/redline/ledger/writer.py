"""One writer thread with group commit: callers queue, a batch commits in one transaction,
and each caller returns only once its batch is committed: on disk, or, for an append that
asked for no durability of its own, written for a later durable commit or sync to cover."""

from __future__ import annotations

import functools
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from redline.errors import StoreError

T = TypeVar("T")


@dataclass
class _Job:
    items: list[Any] | None  # an append, or None for a call
    call: Callable[[], Any] | None = None
    durable: bool = True
    future: Future[Any] = field(default_factory=Future)


class BatchWriter:
    def __init__(
        self,
        commit: Callable[[list[Any], bool], list[int]],
        name: str,
        max_batch: int = 4096,
    ) -> None:
        self._commit = commit
        self._max = max_batch
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def append(self, items: list[Any], durable: bool = True) -> list[int]:
        """Commit `items` in a batch; the batch waits for the disk if any job in it must."""
        if not items:
            return []
        return list(self._submit(_Job(items, durable=durable)))

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the writer thread, between batches."""
        result: T = self._submit(_Job(None, fn))
        return result

    def _submit(self, job: _Job) -> Any:
        if self._closed:
            raise StoreError("the ledger is closed")
        self._queue.put(job)
        return job.future.result()

    def _run(self) -> None:
        carried: list[_Job | None] = []
        while True:
            job = carried.pop() if carried else self._queue.get()
            if job is None:
                return
            if job.call is not None:
                self._finish([job], job.call)
                continue
            batch, count = [job], len(job.items or [])
            # drain what queued while the last batch was being made durable
            while count < self._max:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None or nxt.call is not None:
                    carried.append(nxt)  # runs right after this batch
                    break
                batch.append(nxt)
                count += len(nxt.items or [])
            items = [it for j in batch for it in j.items or []]
            durable = any(j.durable for j in batch)
            self._finish(batch, functools.partial(self._commit, items, durable))

    def _finish(self, batch: list[_Job], work: Callable[[], Any]) -> None:
        try:
            result = work()
        except BaseException as exc:  # every caller of a failed batch learns it failed
            for j in batch:
                j.future.set_exception(exc)
            return
        if batch[0].call is not None:
            batch[0].future.set_result(result)
            return
        start = 0
        for j in batch:
            n = len(j.items or [])
            j.future.set_result(result[start : start + n])
            start += n

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join(timeout=30)
