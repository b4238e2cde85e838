"""Canonical JSON: one byte string per value, so hashes and signatures are reproducible.

Keys sorted, no insignificant whitespace, UTF-8, no NaN/Infinity. Floats are written with
Python's shortest round-trip repr; the ledger only stores floats rounded to 6 places.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def sha256_hex(value: Any) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()
