"""A Redline gateway for the aggregate tests: the fake upstream answers each prompt with a
batch of tool calls, and a scripted agent sends them through the real `openai` SDK under
an attested authority reference."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redline.gateway.app import create_app
from redline.settings import DeploymentConfig, Settings, UpstreamConfig
from tests.support.fake_upstream import FAKE_KEY, Answer, FakeUpstream, GatewayEnv, create_fake
from tests.support.loopback import serve

AUTHORITY = {"Redline-Authority-Ref": "warrant AG-2026-117"}
FIRST = ("Maria", "Jonas", "Aylin", "Pieter", "Sofia", "Mateo", "Hanna", "Tomasz", "Leila",
         "Oskar", "Ines", "Dmitri", "Freya", "Rafael", "Noor", "Emil", "Greta", "Yusuf",
         "Clara", "Bruno")  # fmt: skip
LAST = ("Keller", "Okafor", "Lindqvist", "Moreau", "Brandt", "Novak", "Haddad", "Castillo",
        "Vermeer", "Szabo")  # fmt: skip
PEOPLE = [f"{f} {last}" for last in LAST for f in FIRST]  # 200 distinct names


def settings_for(tmp: Path, upstream: str, packs: str, db: str | None = None) -> Settings:
    return Settings(
        db=db or str(tmp / "redline.db"), classifier="rules", approval_keys_dir=tmp / "keys",
        deployments={"default": DeploymentConfig(
                         packs=packs.split(","), attesters={"authority_ref": ["agent", "ops"],
                                                    "senior_review_ref": ["agent"]}),
                     "other": DeploymentConfig(packs=["provider-redlines"])},
        upstreams={"alpha": UpstreamConfig(base_url=upstream, api_key_env="FAKE_UPSTREAM_KEY",
                                           models=["alpha-1"], timeout_s=10)},
        min_review_s=0, rate_limit_per_minute=0,
    )  # fmt: skip


@contextmanager
def redline_server(
    settings: Settings, fake: FakeUpstream, keys: dict[str, str] | None = None
) -> Iterator[GatewayEnv]:
    """A Redline server; with `keys` None it adds the principals: agent and ops (requesters
    trusted for authority_ref), approver, auditor; and in deployment "other" an auditor
    (outsider) and an admin (root). Given keys: a restart on the same db."""
    app = create_app(settings)
    if keys is None:
        principals = app.state.services.principals
        keys = {
            name: principals.add(name, roles, "default")[1]
            for name, roles in (("agent", ["requester"]), ("ops", ["requester"]),
                                ("approver", ["approver"]), ("auditor", ["auditor"]))
        }  # fmt: skip
        for name, roles in (("outsider", ["auditor"]), ("root", ["admin"])):
            keys[name] = principals.add(name, roles, "other")[1]
    upstream = settings.upstreams["alpha"].base_url
    with serve(app) as url:
        yield GatewayEnv(url, upstream, fake, app, keys, settings)


@contextmanager
def fake_upstream() -> Iterator[tuple[FakeUpstream, str]]:
    fake = FakeUpstream(default=Answer(text="Done."))
    os.environ["FAKE_UPSTREAM_KEY"] = FAKE_KEY
    with serve(create_fake(fake)) as up:
        yield fake, up + "/v1"


@contextmanager
def aggregate_gateway(
    tmp: Path, packs: str = "provider-redlines", db: str | None = None
) -> Iterator[GatewayEnv]:
    with (
        fake_upstream() as (fake, upstream),
        redline_server(settings_for(tmp, upstream, packs, db), fake) as env,
    ):
        yield env


@dataclass
class Agent:
    """A scripted agent: each turn, the upstream answers with a batch of tool calls."""

    env: GatewayEnv
    who: str = "agent"
    turns: int = 0

    def run(
        self,
        calls: list[tuple[str, dict[str, Any]]],
        url: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> list[Any]:
        """One turn; the `redline.output` item of each tool call, in order."""
        from openai import OpenAI

        self.turns += 1
        prompt = f"{self.who}: carry on with step {self.turns}."
        self.env.fake.answers[prompt] = Answer(text=None, tool_calls=calls)
        client = OpenAI(base_url=(url or self.env.url) + "/v1", api_key=self.env.keys[self.who],
                        max_retries=0)  # fmt: skip
        out = client.chat.completions.create(
            model="alpha-1",
            messages=[{"role": "user", "content": prompt}],
            extra_headers=AUTHORITY | (headers or {}),
        )
        extra: dict[str, Any] = out.model_extra or {}
        items: list[Any] = extra["redline"]["output"]
        assert len(items) == len(calls)
        return items


def lookups(names: list[str]) -> list[tuple[str, dict[str, Any]]]:
    return [("lookup_person", {"name": n, "fields": ["address", "phone"]}) for n in names]


def first_stopped(statuses: list[str]) -> int | None:
    """The 1-based position of the first call Redline did not let through."""
    return next((i + 1 for i, s in enumerate(statuses) if s != "allowed"), None)


def aggregates(env: GatewayEnv) -> Any:
    """GET /v1/aggregates as the deployment's auditor."""
    import httpx

    headers = {"authorization": f"Bearer {env.keys['auditor']}"}
    return httpx.get(env.url + "/v1/aggregates", headers=headers).json()
