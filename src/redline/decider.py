"""The request path in one place: classify → evaluate → record → answer.

Each hop fails closed: a classifier, policy or ledger failure answers deny and says why.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from redline.aggregate.bulk import with_bulk_rule
from redline.aggregate.counter import Counter
from redline.classify.types import Classification, Classifier
from redline.clock import utcnow
from redline.decision import Decision, fail_closed, from_outcome
from redline.ledger.entry import DecidedByRef, LedgerEntry, commit
from redline.ledger.store import DecisionStore, Sealed
from redline.policy.compose import compose
from redline.policy.engine import PackEvaluator
from redline.policy.facts import Facts
from redline.policy.pack import Pack
from redline.subject import DecideRequest, Subject
from redline.subject_hash import SubjectHasher
from redline.trust import Trust, facts_from

log = logging.getLogger("redline.decide")


@dataclass(frozen=True)
class _Case:
    """One request on its way through the packs."""

    request: DecideRequest
    subject: Subject
    classification: Classification
    facts: Facts
    ignored: list[str]
    bound: dict[str, Any] | None


@dataclass
class Decider:
    classifier: Classifier
    packs: list[Pack]
    store: DecisionStore
    trust: Trust
    evaluator: PackEvaluator = field(default_factory=PackEvaluator)
    # The deployment's keyed subject hash; a decider built without one uses a random key.
    hasher: SubjectHasher = field(default_factory=SubjectHasher.ephemeral)
    # distinct surveillance subjects per principal (aggregate/); None: nothing is counted
    # (the local `redline check` tool, where every line stands alone)
    aggregates: Counter | None = None

    def decide(
        self,
        request: DecideRequest,
        approvals: frozenset[str] = frozenset(),
        *,
        defer_sync: bool = False,
        bound: dict[str, Any] | None = None,
        answer: bool = False,
    ) -> Decision:
        """`bound`: the rest of the forwarded request (model, parameters); it enters the
        subject hash, so an approval of this request binds it too. `answer`: the text is a
        model's answer, read with the answer thresholds."""
        return self.decide_batch(
            [request], [approvals], defer_sync=defer_sync, bound=bound, answers=[answer]
        )[0]

    def subject_hash(self, subject: Subject, bound: dict[str, Any] | None = None) -> str:
        return self.hasher.hash(subject, bound)

    def decide_batch(
        self,
        requests: Sequence[DecideRequest],
        approvals: Sequence[frozenset[str]] | None = None,
        *,
        defer_sync: bool = False,
        bound: dict[str, Any] | None = None,
        answers: Sequence[bool] | None = None,
    ) -> list[Decision]:
        """Classify, evaluate and record each request; a request flagged in `answers` is a
        model's text answer, read with the answer thresholds (Thresholds.for_answers).

        `defer_sync`: the caller answers nobody yet on an allow (the gateway forwards it) and
        syncs the ledger, or appends durably, before it releases anything. An allow is then
        committed without waiting for the disk (`on_disk` False); a deny or hold is answered
        at once, so it is always on disk first."""
        approvals = approvals or [frozenset()] * len(requests)
        subjects = [r.subject() for r in requests]
        started = time.perf_counter()
        try:
            classifications = self.classifier.classify_batch(subjects)
        except Exception as exc:
            log.error("classifier failed: %s", type(exc).__name__)
            # A fail-closed deny is answered, so it goes on the ledger like any decision.
            failed = [
                self._failed("classifier", exc, r, s, bound)
                for r, s in zip(requests, subjects, strict=True)
            ]
            return self._record(requests, subjects, failed, durable=True)
        if answers is not None:
            classifications = [
                c.as_answer() if a else c for c, a in zip(classifications, answers, strict=True)
            ]
        classified = time.perf_counter()
        decisions = [
            self._evaluate(r, s, c, a, bound)
            for r, s, c, a in zip(requests, subjects, classifications, approvals, strict=True)
        ]
        evaluated = time.perf_counter()
        durable = not defer_sync or any(d.decision != "allow" for d in decisions)
        decisions = self._record(requests, subjects, decisions, durable=durable)
        timings = {
            "classify": (classified - started) * 1000,
            "policy": (evaluated - classified) * 1000,
            "ledger": (time.perf_counter() - evaluated) * 1000,
        }
        for decision in decisions:
            decision.timings.update(timings)
        return decisions

    def record(self, request: DecideRequest, decision: Decision) -> Decision:
        """Record a refusal decided by one of Redline's own checks, outside the packs (a
        poisoned tool definition), durably and like any decision."""
        subject = request.subject()
        decision.policies = {p.name: p.version for p in self.packs}
        decision.subject_hash = self.hasher.hash(subject, None)
        return self._record([request], [subject], [decision], durable=True)[0]

    def _evaluate(
        self,
        request: DecideRequest,
        subject: Subject,
        classification: Classification,
        approvals: frozenset[str],
        bound: dict[str, Any] | None,
    ) -> Decision:
        facts, ignored = facts_from(request.context, self.trust, approvals)
        case = _Case(
            request, subject, with_bulk_rule(subject, classification), facts, ignored, bound
        )
        if self.aggregates is None:
            return self._policy(case)
        try:
            pending = self.aggregates.pending(request, subject, case.classification, self.packs)
            if pending is None:
                return self._policy(case)
            with self.aggregates.session(pending) as window:
                decision = self._policy(case, window.tally.cedar())
                if decision.decision == "allow":  # a hold or deny adds nothing
                    window.add()
                return decision
        except Exception as exc:
            log.error("aggregate count failed: %s", type(exc).__name__)
            decision = self._failed("aggregate", exc, request, subject, bound)
            decision.classifier = classification.classifier
            return decision

    def _policy(self, case: _Case, aggregate: dict[str, Any] | None = None) -> Decision:
        """Compose the packs over one classified request (and its counts, if it counts)."""
        try:
            outcome = compose(
                self.evaluator, self.packs, case.classification, case.facts, aggregate
            )
        except Exception as exc:
            log.error("policy evaluation failed: %s", type(exc).__name__)
            decision = self._failed("policy", exc, case.request, case.subject, case.bound)
            decision.classifier = case.classification.classifier
            return decision
        decision = from_outcome(outcome, case.classification, id=case.request.id)
        decision.policies = {p.name: p.version for p in self.packs}
        decision.ignored_attestations = case.ignored
        decision.subject_hash = self.hasher.hash(case.subject, case.bound)
        return decision

    def _failed(
        self,
        stage: str,
        exc: BaseException,
        request: DecideRequest,
        subject: Subject,
        bound: dict[str, Any] | None,
    ) -> Decision:
        decision = fail_closed(stage, exc, id=request.id)
        decision.policies = {p.name: p.version for p in self.packs}
        decision.subject_hash = self.hasher.hash(subject, bound)
        return decision

    def _entry(self, request: DecideRequest, decision: Decision, commitment: str) -> LedgerEntry:
        return LedgerEntry(
            time=utcnow(),
            deployment=request.context.deployment,
            principal=request.context.principal.id,
            policies={p.name: p.sha256 for p in self.packs},
            classifier=decision.classifier,
            commitment=commitment,
            subject_hash=decision.subject_hash,
            categories={k: round(v, 6) for k, v in decision.categories.items() if v > 0},
            decision=decision.decision,
            decided_by=[
                DecidedByRef(policy=d.policy, rule=d.rule, effect=d.effect, category=d.category)
                for d in decision.decided_by
            ],
            detail=self._detail(request, decision),
        )

    def _detail(self, request: DecideRequest, decision: Decision) -> dict[str, Any]:
        detail: dict[str, Any] = {}
        if decision.ignored_attestations:
            detail["ignored_attestations"] = decision.ignored_attestations
        if facts := facts_from(request.context, self.trust)[0].attested():
            detail["facts"] = facts
        # the window and count of each deciding aggregate rule, never the subjects
        counted = [
            {"rule": d.rule, "window": d.window, "scope": d.scope, "count": d.count}
            for d in decision.decided_by
            if d.window is not None
        ]
        if counted:
            detail["aggregate"] = counted
        return detail

    def _record(
        self,
        requests: Sequence[DecideRequest],
        subjects: Sequence[Subject],
        decisions: list[Decision],
        *,
        durable: bool,
    ) -> list[Decision]:
        sealed = []
        for request, subject, decision in zip(requests, subjects, decisions, strict=True):
            content = subject.content_json()
            salt, commitment = commit(content)
            sealed.append(Sealed(self._entry(request, decision, commitment), content, salt))
        try:
            indexes = self.store.append_many(sealed, durable=durable)
        except Exception as exc:
            log.error("ledger write failed: %s", type(exc).__name__)
            return [fail_closed("ledger", exc, id=r.id) for r in requests]
        for decision, index in zip(decisions, indexes, strict=True):
            decision.ledger_index = index
            decision._on_disk = durable
        return decisions
