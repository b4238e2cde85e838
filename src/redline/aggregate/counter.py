"""The Decider's side of aggregates: which requests count, their hashed subjects, and one
principal's windows around the decision.

    pending = counter.pending(request, subject, classification, packs)
    with counter.session(pending) as window:      # None: the request does not count
        decision = decide(window.tally)
        if decision.decision == "allow":
            window.add()                            # a hold or deny adds nothing

A hold adds its subjects once approved and allowed on its resume; a deny adds none.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from redline.aggregate.lookup import is_surveillance, person_lookup, subjects
from redline.aggregate.secret import SubjectHasher, load_or_create_secret
from redline.aggregate.store import AggregateStore, WindowSession
from redline.aggregate.tally import Tally
from redline.classify.types import Classification
from redline.policy.pack import Pack
from redline.subject import DecideRequest, Subject


@dataclass(frozen=True)
class Pending:
    """A request that counts: whose it is, and its subjects' keyed hashes."""

    deployment: str
    principal: str
    hashes: tuple[str, ...]
    lookup: bool


@dataclass
class Window:
    session: WindowSession
    pending: Pending
    tally: Tally

    def add(self) -> None:
        self.session.add(self.pending.hashes)


class Counter:
    def __init__(self, store: AggregateStore, keys_dir: Path) -> None:
        self.store = store
        self.keys_dir = keys_dir
        self._hashers: dict[str, SubjectHasher] = {}
        self._lock = threading.Lock()

    def hasher(self, deployment: str) -> SubjectHasher:
        """The deployment's hasher; its secret is created on first use (0600)."""
        with self._lock:
            if deployment not in self._hashers:
                self._hashers[deployment] = SubjectHasher(
                    load_or_create_secret(self.keys_dir, deployment)
                )
            return self._hashers[deployment]

    def pending(
        self,
        request: DecideRequest,
        subject: Subject,
        classification: Classification,
        packs: Sequence[Pack],
    ) -> Pending | None:
        lookup = person_lookup(subject)
        if not lookup and not is_surveillance(classification, packs):
            return None
        deployment = request.context.deployment
        hasher = self.hasher(deployment)
        hashes = tuple(dict.fromkeys(hasher.digest(i.key()) for i in subjects(subject)))
        return Pending(deployment, request.context.principal.id, hashes, lookup)

    @contextmanager
    def session(self, pending: Pending) -> Iterator[Window]:
        with self.store.session(pending.deployment, pending.principal) as session:
            tally = session.tally(pending.hashes, lookup=pending.lookup)
            yield Window(session, pending, tally)
