"""First start: with no principals at all, create a local admin and a requester, approver and
commander in the server's default deployment, and write their keys to a 0600 file."""

from __future__ import annotations

import json
import os
from pathlib import Path

from redline.auth.store import PrincipalStore

DEMO_PRINCIPALS = (
    ("local-admin", "admin"),
    ("demo-requester", "requester"),
    ("demo-approver", "approver"),
    ("demo-commander", "commander"),
)


def bootstrap_local(
    store: PrincipalStore, keys_file: Path, deployment: str = "default"
) -> dict[str, str] | None:
    """Create the local principals if the table is empty; their keys (also in keys_file)."""
    if store.count():
        return None
    keys = {}
    for name, role in DEMO_PRINCIPALS:
        _, keys[name] = store.add(name, [role], deployment)
    keys_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(keys_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(keys, f, indent=2)
        f.write("\n")
    os.chmod(keys_file, 0o600)
    return keys
