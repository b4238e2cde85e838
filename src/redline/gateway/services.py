"""What the routes share, built once per server from its settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from redline.aggregate.counter import Counter
from redline.aggregate.store import AggregateStore
from redline.approvals.service import ApprovalService
from redline.approvals.token import load_or_create_signing_key
from redline.auth.store import PrincipalStore
from redline.classify.load import load_classifier
from redline.classify.types import Classifier
from redline.db import make_engine
from redline.decider import Decider
from redline.errors import NotFoundError
from redline.gateway.budget import ClassificationBudget
from redline.gateway.security import RateLimiter
from redline.ledger.checkpoint import Checkpointer, checkpointer_from_env
from redline.ledger.content import load_or_create_content_key
from redline.ledger.open import open_ledger
from redline.ledger.store import DecisionStore, LedgerStore
from redline.policy.engine import PackEvaluator
from redline.policy.pack import PackRegistry
from redline.settings import Settings
from redline.subject_hash import SubjectKeys, load_or_create_subject_keys
from redline.trust import Trust


@dataclass
class Services:
    settings: Settings
    registry: PackRegistry
    store: DecisionStore
    classifier: Classifier
    evaluator: PackEvaluator = field(default_factory=PackEvaluator)
    _deciders: dict[str, Decider] = field(default_factory=dict)
    _upstream_deciders: dict[str, Decider] = field(default_factory=dict)
    checkpointer: Checkpointer | None = None  # signs ledger checkpoints (issue 4)
    # identity and approvals (issues 7 and 5): built from settings.db in __post_init__
    principals: PrincipalStore = field(init=False)
    approvals: ApprovalService = field(init=False)
    rate_limiter: RateLimiter = field(init=False)
    subject_keys: SubjectKeys = field(init=False)  # keyed subject hashes (issue 18)
    aggregates: Counter = field(init=False)  # distinct surveillance subjects (issue 20)
    budget: ClassificationBudget = field(init=False)

    def __post_init__(self) -> None:
        self.subject_keys = load_or_create_subject_keys(self.settings.approval_keys_dir)
        engine = make_engine(self.settings.db)
        self.principals = PrincipalStore(engine)
        key = load_or_create_signing_key(self.settings.approval_keys_dir)
        content_key = load_or_create_content_key(self.settings.content_key_path())
        self.approvals = ApprovalService(
            self.settings, self.store, key, engine, content_key=content_key
        )
        self.rate_limiter = RateLimiter(
            self.settings.rate_limit_per_minute, self.settings.rate_limit_burst
        )
        self.aggregates = Counter(AggregateStore(self.settings.db), self.settings.approval_keys_dir)
        for name in self.settings.deployments:
            self.aggregates.hasher(name)  # each deployment's secret exists from the first start
        self.budget = ClassificationBudget(self.settings)

    def decider(self, deployment: str | None = None) -> Decider:
        """The decider of a deployment: its packs, its trust, the shared classifier and ledger."""
        name = deployment or self.settings.default_deployment
        if name not in self._deciders:
            config = self.settings.deployments.get(name)
            if config is None:
                raise NotFoundError(f"unknown deployment {name!r}")
            trust = Trust({k: frozenset(v) for k, v in config.attesters.items()})
            self._deciders[name] = Decider(
                self.classifier,
                self.registry.select(config.packs),
                self.store,
                trust,
                self.evaluator,
                self.subject_keys.for_deployment(name),
                self.aggregates,
            )
        return self._deciders[name]

    def decider_for(self, deployment: str | None, upstream: str) -> Decider:
        """The decider for a chat request routed to `upstream`: the deployment's packs plus
        the upstream's (a provider's packs travel with its model); the most restrictive wins."""
        base = self.decider(deployment)
        key = f"{deployment or self.settings.default_deployment}\x00{upstream}"
        if key not in self._upstream_deciders:
            names = self.settings.upstreams[upstream].packs
            have = {p.name for p in base.packs}
            extra = [p for p in self.registry.select(names) if p.name not in have] if names else []
            self._upstream_deciders[key] = Decider(
                self.classifier,
                base.packs + extra,
                self.store,
                base.trust,
                self.evaluator,
                base.hasher,
                self.aggregates,
            )
        return self._upstream_deciders[key]

    def close(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.stop()
        self.approvals.close()
        self.aggregates.store.close()
        self.store.close()


def open_store(db: str) -> DecisionStore:
    """The ledger for `redline check`: its content sealed like the server's, under the key
    in $REDLINE_CONTENT_KEY or $REDLINE_KEYS_DIR (./var/keys), created if missing."""
    return open_ledger(db, load_or_create_content_key(Settings().content_key_path()))


def build_services(settings: Settings) -> Services:
    registry = PackRegistry(settings.policy_dir)
    for config in settings.deployments.values():
        registry.select(config.packs)  # an unknown pack fails at start, not at first request
    for upstream in settings.upstreams.values():
        if upstream.packs:
            registry.select(upstream.packs)
    content_key = load_or_create_content_key(settings.content_key_path())
    store = open_ledger(settings.db, content_key)
    if isinstance(store, LedgerStore):
        store.keep_content = settings.content_at_rest == "encrypted"
    services = Services(settings, registry, store, load_classifier(settings.classifier))
    if isinstance(store, LedgerStore):
        services.checkpointer = checkpointer_from_env(store)
        if services.checkpointer is not None:
            services.checkpointer.start()
    return services


async def get_services(request: Request) -> Services:
    """A dependency; async so that FastAPI calls it inline, not on a worker thread."""
    services: Services = request.app.state.services
    return services
