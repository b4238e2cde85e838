"""Replay: re-decide a deployment's recorded traffic under a candidate composition.

Nothing of the request path runs: no decision is recorded, no approval opened, nothing
forwarded. The content is read back through the ledger store (which opens and checks each
entry's commitment, and decrypts sealed content), classified once, and evaluated under the
packs in force and under the candidate. One `replay` entry then records who replayed
which window under what, and the SHA-256 of the result.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from redline.canonical import canonical_json
from redline.classify.types import Classifier
from redline.errors import InputError, NotFoundError, RedlineError
from redline.ledger.entry import LedgerEntry
from redline.ledger.store import LedgerStore, Sealed
from redline.policy.facts import Facts
from redline.policy.pack import Pack
from redline.policy.simulate import Item, shift_json, simulate
from redline.subject import Context, DecideRequest, PrincipalRef

_SINCE = re.compile(r"^(\d{1,6})([smhdw])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_ENTRIES = 100_000
BACK_OFF = 1024  # entries are stamped before they are appended, so times may be out of order


def parse_since(since: str) -> dt.timedelta:
    m = _SINCE.match(since.strip())
    if m is None:
        raise InputError(f"since {since!r}: expected a number and a unit, like 7d, 24h or 90m")
    return dt.timedelta(seconds=int(m.group(1)) * _UNIT[m.group(2)])


def _time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def first_index(store: LedgerStore, size: int, cutoff: dt.datetime) -> int:
    """The first index whose entry may be at or after `cutoff` (a binary search, backed off)."""
    low, high = 0, size
    while low < high:
        mid = (low + high) // 2
        if _time(store.entry(mid).time) < cutoff:
            low = mid + 1
        else:
            high = mid
    return max(0, low - BACK_OFF)


def recorded_facts(entry: LedgerEntry) -> Facts:
    """The attested facts that counted when the entry was decided (none if not recorded)."""
    facts = entry.detail.get("facts") or {}
    return Facts(
        authority_ref=bool(facts.get("authority_ref")),
        senior_review_ref=bool(facts.get("senior_review_ref")),
        purpose=str(facts.get("purpose", "")),
        us_persons=str(facts.get("us_persons", "unknown")),
        classification=str(facts.get("classification", "")),
        principal=entry.principal,
    )


@dataclass
class Window:
    """What was replayed: the entries of one deployment in [start, end) at or after `since`."""

    deployment: str
    since: str
    start: int = 0
    end: int = 0
    items: list[Item] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # content erased or undecryptable


def _decisions(
    store: LedgerStore, deployment: str, start: int, end: int, cutoff: dt.datetime
) -> Iterator[tuple[int, LedgerEntry]]:
    for index, body, _ in store.scan(start):
        if index >= end:
            return
        entry = LedgerEntry.model_validate_json(body)
        mine = entry.kind == "decision" and entry.deployment == deployment
        if mine and _time(entry.time) >= cutoff:
            yield index, entry


def read_window(store: LedgerStore, deployment: str, since: str, now: dt.datetime) -> Window:
    cutoff = now - parse_since(since)
    end = store.size()
    window = Window(deployment, since, first_index(store, end, cutoff), end)
    for index, entry in _decisions(store, deployment, window.start, end, cutoff):
        if len(window.items) >= MAX_ENTRIES:
            raise InputError(f"more than {MAX_ENTRIES} decisions since {since}: replay less")
        try:
            _, content = store.reveal(index)
            ref = PrincipalRef(id=entry.principal)
            context = Context(principal=ref, deployment=deployment)
            request = DecideRequest.model_validate({**content, "context": context})
        except NotFoundError:
            window.unreadable.append(f"entry {index}: its content is no longer stored")
            continue
        except (RedlineError, ValidationError) as exc:
            window.unreadable.append(f"entry {index}: {type(exc).__name__}: {exc}")
            continue
        window.items.append(Item(index, request, recorded_facts(entry)))
    return window


def result_hash(report: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of the report, without the fields that record it."""
    body = {k: v for k, v in report.items() if k not in ("result_sha256", "ledger_index")}
    return hashlib.sha256(canonical_json(body)).hexdigest()


def replay(
    store: LedgerStore,
    classifier: Classifier,
    current: Sequence[Pack],
    candidate: Sequence[Pack],
    *,
    deployment: str,
    principal: str,
    since: str,
) -> dict[str, Any]:
    """Re-decide the window under `current` (A) and `candidate` (B); record one entry."""
    now = dt.datetime.now(dt.UTC)
    window = read_window(store, deployment, since, now)
    report = simulate(classifier, current, candidate, window.items)
    report.invalid = window.unreadable
    body = shift_json(report)
    body["window"] = {"deployment": deployment, "since": since, "from": window.start,
                      "to": window.end, "replayed": len(window.items)}  # fmt: skip
    body["replayed_by"] = principal
    body["result_sha256"] = result_hash(body)
    entry = LedgerEntry(
        kind="replay",
        time=now.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        deployment=deployment,
        principal=principal,
        policies={p.name: p.sha256 for p in candidate},
        detail={
            "against": {p.name: p.sha256 for p in current},
            "window": body["window"],
            "result_sha256": body["result_sha256"],
        },
    )
    body["ledger_index"] = store.append_many([Sealed(entry)])[0]
    return body
