"""What the routes share, built once per server from its settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from redline.classify.load import load_classifier
from redline.classify.types import Classifier
from redline.errors import NotFoundError
from redline.ledger.sqlite import SqliteStore
from redline.ledger.store import DecisionStore
from redline.policy.engine import PackEvaluator
from redline.policy.pack import PackRegistry
from redline.service import Decider
from redline.settings import Settings
from redline.trust import Trust


@dataclass
class Services:
    settings: Settings
    registry: PackRegistry
    store: DecisionStore
    classifier: Classifier
    evaluator: PackEvaluator = field(default_factory=PackEvaluator)
    _deciders: dict[str, Decider] = field(default_factory=dict)

    def decider(self, deployment: str | None = None) -> Decider:
        """The decider of a deployment: its packs, its trust, the shared classifier and ledger."""
        name = deployment or self.settings.default_deployment
        if name not in self._deciders:
            config = self.settings.deployments.get(name)
            if config is None:
                raise NotFoundError(f"unknown deployment {name!r}")
            trust = Trust({k: frozenset(v) for k, v in config.attesters.items()})
            self._deciders[name] = Decider(
                self.classifier, self.registry.select(config.packs), self.store, trust,
                self.evaluator,
            )  # fmt: skip
        return self._deciders[name]

    def close(self) -> None:
        self.store.close()


def open_store(db: str) -> DecisionStore:
    return SqliteStore(db)


def build_services(settings: Settings) -> Services:
    registry = PackRegistry(settings.policy_dir)
    for name, config in settings.deployments.items():
        registry.select(config.packs)  # an unknown pack fails at start, not at first request
        del name
    store = open_store(settings.db)
    return Services(settings, registry, store, load_classifier(settings.classifier))


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services
