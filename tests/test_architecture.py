"""The import rule of docs/architecture.md, checked on the source: an `ast` walk over
src/redline finds every import (under TYPE_CHECKING too) and fails on one the rule does
not allow."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

# Modules at the bottom that anything may import; they import only each other.
CORE = frozenset(
    {
        "canonical",
        "clock",
        "db",
        "errors",
        "settings",
        "subject",
        "subject_hash",
        "tables",
        "taxonomy",
    }
)
EVERYTHING_BUT_ENTRY_POINTS = frozenset(
    {"classify", "policy", "decision", "trust", "ledger", "aggregate", "auth", "decider"}
)
WEB = frozenset({"gateway", "console", "mcp"})

# Which part of src/redline may import which (besides itself, CORE and `redline`'s
# own __init__). A part missing here is an error: give it a row and a line in the doc.
ALLOWED: dict[str, frozenset[str]] = {
    "": CORE,  # redline/__init__.py
    **{name: CORE for name in CORE},
    "migrations": CORE,
    "classify": CORE,
    "policy": CORE | {"classify"},
    "decision": CORE | {"classify", "policy"},
    "trust": CORE | {"policy"},
    "ledger": CORE,
    "auth": CORE,
    "aggregate": CORE | {"classify", "policy", "decision", "ledger"},
    "decider": CORE | {"classify", "policy", "decision", "trust", "ledger", "aggregate"},
    "approvals": CORE | {"auth", "classify", "decision", "decider", "ledger"},
    "training": CORE | {"classify", "policy", "decision", "trust"},
    # The effector runs inside a tool server: it checks tokens with approvals/token.py only.
    "effector": CORE | {"approvals"},
    **{name: CORE | EVERYTHING_BUT_ENTRY_POINTS | {"approvals"} | WEB for name in WEB},
    "cli": CORE | EVERYTHING_BUT_ENTRY_POINTS | {"approvals", "training"} | WEB,
}

# Imports the rule does not allow yet, each with the issue that removes it.
KNOWN: dict[tuple[str, str], str] = {
    # The policy lab (issue 23) re-decides recorded traffic: it reads the ledger and the
    # trust as the decider does, so it belongs in a part above policy/, not inside it.
    ("redline.policy.replay", "ledger"): "issue 23",
    ("redline.policy.simulate", "trust"): "issue 23",
}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. redline.gateway.app
    target: str  # what it imports, e.g. redline.approvals.flow
    line: int


def part(module: str) -> str:
    """The part of redline a module belongs to: its package, or itself at the top level."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else ""


def module_name(path: Path, src: Path) -> str:
    name = ".".join(path.relative_to(src).with_suffix("").parts)
    return name.removesuffix(".__init__")


def imports_of(module: str, source: str) -> Iterator[Import]:
    package = module if module.count(".") == 0 else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the package
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            yield Import(module, target, node.lineno)


def violations(sources: dict[str, str]) -> list[str]:
    """Every import among `sources` (module name → text) that the rule forbids."""
    found = []
    for module, source in sorted(sources.items()):
        own = part(module)
        allowed = ALLOWED.get(own)
        if allowed is None:
            found.append(f"{module}: the part {own!r} has no row in ALLOWED")
            continue
        for imp in imports_of(module, source):
            if imp.target != "redline" and not imp.target.startswith("redline."):
                continue
            target = part(imp.target)
            if target in ("", own) or target in allowed:
                continue
            if (module, target) in KNOWN:
                continue
            found.append(f"{module}:{imp.line} imports {imp.target} ({own} -> {target})")
    return found


def package_sources() -> dict[str, str]:
    return {
        module_name(path, SRC): path.read_text("utf-8")
        for path in sorted((SRC / "redline").rglob("*.py"))
    }


def test_every_import_follows_the_rule() -> None:
    assert violations(package_sources()) == []


def test_known_exceptions_still_exist() -> None:
    """An exception that no longer happens is taken off the list."""
    sources = package_sources()
    for module, target in KNOWN:
        assert module in sources, f"{module} is gone: remove it from KNOWN"
        targets = {part(i.target) for i in imports_of(module, sources[module])}
        assert target in targets, f"{module} no longer imports {target}: remove it from KNOWN"


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("redline.auth.deps", "from redline.gateway.services import Services", "auth -> gateway"),
        (
            "redline.approvals.flow",
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from redline.gateway import services",
            "approvals -> gateway",
        ),
        ("redline.ledger.store", "import redline.decider", "ledger -> decider"),
        ("redline.gateway.app", "from redline.training import train", "gateway -> training"),
        ("redline.decider", "from redline.cli import main", "decider -> cli"),
        ("redline.policy.pack", "from ..approvals import service", "policy -> approvals"),
        ("redline.newpart.x", "import os", "has no row in ALLOWED"),
    ],
)
def test_the_check_finds_a_forbidden_import(module: str, source: str, expected: str) -> None:
    found = violations({module: source})
    assert len(found) == 1 and expected in found[0], found


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("redline.gateway.routes.decide", "from redline.approvals.flow import bind"),
        ("redline.cli.train", "from redline.training.build import build"),
        ("redline.decider", "from redline.aggregate import rules"),
        ("redline.console.pages", "from redline.gateway.deps import PrincipalDep"),
        ("redline.approvals.service", "from redline.auth.principal import Principal"),
        ("redline.ledger.sqlite", "from redline.tables import ledger_ddl"),
    ],
)
def test_the_check_allows_what_the_rule_allows(module: str, source: str) -> None:
    assert violations({module: source}) == []
