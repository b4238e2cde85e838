"""The ledger's group commit: one writer at a time, batches shared under load, every caller
of a failed batch told, nothing queued lost on close."""

from __future__ import annotations

import threading
import time

import pytest

from redline.errors import StoreError
from redline.ledger.writer import BatchWriter


class Log:
    """A commit function over a list: numbers items, notes each batch, can be made to fail."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.items: list[object] = []
        self.batches: list[tuple[int, bool]] = []
        self.active = 0
        self.overlapped = False
        self.fail = False
        self.delay_s = delay_s

    def commit(self, items: list[object], durable: bool) -> list[int]:
        self.active += 1
        self.overlapped |= self.active > 1
        try:
            time.sleep(self.delay_s)  # a commit waiting on the disk
            if self.fail:
                raise OSError("disk I/O error")
            start = len(self.items)
            self.items += items
            self.batches.append((len(items), durable))
            return list(range(start, start + len(items)))
        finally:
            self.active -= 1


def test_concurrent_appends_share_commits_and_never_overlap() -> None:
    log = Log(delay_s=0.005)
    writer = BatchWriter(log.commit)
    got: dict[int, list[int]] = {}

    def worker(w: int) -> None:
        for j in range(10):
            got[w * 100 + j] = writer.append([f"{w}-{j}-a", f"{w}-{j}-b"])

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not log.overlapped  # one writer at a time
    assert len(log.batches) < 80  # appends that queued during a commit shared the next one
    indexes = sorted(i for pair in got.values() for i in pair)
    assert indexes == list(range(160))
    for pair in got.values():  # an append's items stay together, in order
        assert pair[1] == pair[0] + 1 and log.items[pair[0]].endswith("-a")  # type: ignore[union-attr]


def test_a_batch_is_durable_if_any_append_in_it_must_be() -> None:
    log = Log()
    writer = BatchWriter(log.commit)
    writer.append(["x"], durable=False)
    writer.append(["y"])
    assert log.batches == [(1, False), (1, True)]


def test_every_caller_of_a_failed_batch_is_told_and_the_next_batch_runs() -> None:
    log = Log()
    writer = BatchWriter(log.commit)
    log.fail = True
    with pytest.raises(OSError, match="disk I/O error"):
        writer.append(["x"])
    log.fail = False
    assert writer.append(["y"]) == [0]


def test_calls_run_between_batches_and_close_refuses_new_work() -> None:
    log = Log()
    writer = BatchWriter(log.commit)
    writer.append(["x"])
    assert writer.call(lambda: len(log.items)) == 1
    writer.close()
    with pytest.raises(StoreError, match="closed"):
        writer.append(["y"])
    with pytest.raises(StoreError, match="closed"):
        writer.call(lambda: None)
