"""Policy packs: one Cedar file each, a `// key: value` header, validated on load."""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import cedarpy

from redline.errors import PolicyError, UnknownPolicyError
from redline.policy.bands import SCOPES, WINDOWS, aggregate_bands
from redline.policy.lines import hint_of, policy_line, syntax_line
from redline.taxonomy import CATEGORIES

_HEADER = re.compile(r"^//\s*([a-z_.]+)\s*:\s*(.+?)\s*$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@dataclass(frozen=True)
class Rule:
    """One Cedar policy of a pack, with the clause it enforces."""

    pack: str
    id: str
    effect: str  # "permit" | "forbid"
    reason: str
    category: str | None  # the resource it constrains, None for all
    action: str | None = None  # "use", "aggregate", or None for every action
    window: str | None = None  # an aggregate rule's window (@window), e.g. "24h"
    scope: str = "principal"  # an aggregate rule's count: "principal" or "deployment"


@dataclass(frozen=True)
class Pack:
    name: str
    version: str
    title: str
    description: str
    text: str
    sha256: str
    rules: dict[str, Rule]  # keyed by Cedar's policy id ("policy0", ...)
    policy_set: cedarpy.PolicySet = field(compare=False, repr=False)
    thresholds: dict[str, float] = field(default_factory=dict)
    # context.aggregate attribute -> the constants its rules compare it with (bands.py)
    aggregate_bands: dict[str, tuple[int, ...]] = field(default_factory=dict)

    @property
    def rules_on_aggregates(self) -> bool:
        """Whether any rule is on the `aggregate` action; a pack without one is silent."""
        return any(r.action == "aggregate" for r in self.rules.values())

    def rule_list(self) -> list[Rule]:
        return list(self.rules.values())


def schema_text() -> str:
    return resources.files("redline.policy").joinpath("redline.cedarschema").read_text("utf-8")


def _header(text: str, source: str) -> dict[str, str]:
    meta: dict[str, str] = {}
    for line in text.splitlines():
        if not line.startswith("//"):
            if line.strip():
                break
            continue
        if m := _HEADER.match(line):
            meta[m.group(1)] = m.group(2)
    for key in ("pack", "version"):
        if key not in meta:
            raise PolicyError(f"{source}: header line `// {key}: ...` is missing")
    if not _NAME.match(meta["pack"]):
        raise PolicyError(f"{source}: pack name {meta['pack']!r} must match {_NAME.pattern}")
    return meta


def _thresholds(meta: dict[str, str], source: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in meta.items():
        if not key.startswith("threshold."):
            continue
        category = key.removeprefix("threshold.")
        if category not in CATEGORIES:
            raise PolicyError(f"{source}: threshold for unknown category {category!r}")
        try:
            out[category] = float(value)
        except ValueError as exc:
            raise PolicyError(f"{source}: threshold {value!r} is not a number") from exc
    return out


def _at(source: str, line: int | None) -> str:
    return f"{source}, line {line}" if line is not None else source


def _aggregate_fields(rule: Rule, body: dict[str, Any], where: str) -> Rule:
    """The rule's action, and for a forbid on `aggregate` its @window and @scope."""
    act = body.get("action", {})
    action = act.get("entity", {}).get("id") if act.get("op") == "==" else None
    ann = body.get("annotations", {})
    if action != "aggregate" or rule.effect != "forbid":
        return replace(rule, action=action)
    window, scope = ann.get("window"), ann.get("scope", "principal")
    if window not in WINDOWS:
        raise PolicyError(
            f"{where}: aggregate rule {rule.id} needs @window with one of "
            f"{', '.join(WINDOWS)}; got {window!r}"
        )
    if scope not in SCOPES:
        raise PolicyError(
            f"{where}: aggregate rule {rule.id} has @scope {scope!r}; expected one of "
            f"{', '.join(SCOPES)}"
        )
    return replace(rule, action=action, window=window, scope=scope)


def _rules(name: str, text: str, source: str) -> dict[str, Rule]:
    try:
        parsed = json.loads(cedarpy.policies_to_json_str(text))
    except Exception as exc:  # cedarpy raises plain ValueError/RuntimeError on syntax errors
        where = _at(source, syntax_line(text))
        raise PolicyError(f"{where}: Cedar syntax error: {exc}") from exc
    if parsed.get("templates"):
        raise PolicyError(f"{source}: templates are not supported in packs")
    rules: dict[str, Rule] = {}
    for pid, body in parsed["staticPolicies"].items():
        ann = body.get("annotations", {})
        if "id" not in ann or "reason" not in ann:
            where = _at(source, policy_line(text, pid))
            raise PolicyError(f"{where}: every rule needs @id and @reason; this one lacks one")
        res = body.get("resource", {})
        category = res.get("entity", {}).get("id") if res.get("op") == "==" else None
        if category is not None and category not in CATEGORIES:
            where = _at(source, policy_line(text, pid, category))
            raise PolicyError(f"{where}: rule {ann['id']} names unknown category {category!r}")
        rule = Rule(name, ann["id"], body["effect"], ann["reason"], category)
        rules[pid] = _aggregate_fields(rule, body, _at(source, policy_line(text, pid)))
    ids = [r.id for r in rules.values()]
    if len(ids) != len(set(ids)):
        raise PolicyError(f"{source}: rule ids must be unique within a pack")
    return rules


def _schema_error(text: str, rules: dict[str, Rule], error: cedarpy.ValidationError) -> str:
    """ "line 12, rule BASE-7: attribute `warrant` in context ... not found"."""
    line = policy_line(text, error.policy_id, hint_of(error.error))
    rule = rules.get(error.policy_id)
    message = re.sub(r"^for policy `[^`]*`, ", "", error.error)
    return f"line {line}, rule {rule.id if rule else error.policy_id}: {message}"


def parse_pack(text: str, source: str) -> Pack:
    """Parse, validate against the schema, and index a pack. Raises PolicyError."""
    meta = _header(text, source)
    rules = _rules(meta["pack"], text, source)  # syntax errors first: clearer than schema ones
    result = cedarpy.validate_policies(text, schema_text())
    if not result.validation_passed:
        errors = "; ".join(_schema_error(text, rules, e) for e in result.errors)
        raise PolicyError(f"{source}: does not validate against the Redline schema: {errors}")
    name = meta["pack"]
    return Pack(
        name=name,
        version=meta["version"],
        title=meta.get("title", name),
        description=meta.get("description", ""),
        text=text,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        rules=rules,
        policy_set=cedarpy.PolicySet.from_str(text),
        thresholds=_thresholds(meta, source),
        aggregate_bands=aggregate_bands(
            json.loads(cedarpy.policies_to_json_str(text))["staticPolicies"]
        ),
    )


def _pack_files(policy_dir: Path | None) -> dict[str, tuple[str, str]]:
    """name -> (text, source) for the shipped packs, then the user's (which may override)."""
    found: dict[str, tuple[str, str]] = {}
    shipped = resources.files("redline.policy").joinpath("packs")
    for item in sorted(shipped.iterdir(), key=lambda p: p.name):
        if item.name.endswith(".cedar"):
            found[item.name.removesuffix(".cedar")] = (item.read_text("utf-8"), item.name)
    if policy_dir is not None:
        if not policy_dir.is_dir():
            raise PolicyError(f"policy directory {policy_dir} does not exist")
        for path in sorted(policy_dir.glob("*.cedar")):
            found[path.stem] = (path.read_text("utf-8"), str(path))
    return found


class PackRegistry:
    """Every pack available to this server: shipped ones and a policy directory's."""

    def __init__(self, policy_dir: str | Path | None = None) -> None:
        env = os.environ.get("REDLINE_POLICY_DIR")
        chosen = policy_dir if policy_dir is not None else env
        self.policy_dir = Path(chosen) if chosen else None
        self.packs: dict[str, Pack] = {}
        for stem, (text, source) in _pack_files(self.policy_dir).items():
            pack = parse_pack(text, source)
            if pack.name != stem:
                raise PolicyError(f"{source}: header names pack {pack.name!r}, file is {stem!r}")
            self.packs[pack.name] = pack

    def get(self, name: str) -> Pack:
        try:
            return self.packs[name]
        except KeyError:
            raise UnknownPolicyError(
                f"unknown policy pack {name!r}; available: {', '.join(sorted(self.packs))}"
            ) from None

    def select(self, names: str | list[str]) -> list[Pack]:
        wanted = [n.strip() for n in names.split(",")] if isinstance(names, str) else names
        wanted = [n for n in wanted if n]
        if not wanted:
            raise UnknownPolicyError("no policy pack named; give at least one")
        return [self.get(n) for n in dict.fromkeys(wanted)]
