"""Principals and their API keys, in the relational state store (redline.tables).

A key is `rl_<keyid>_<secret>`: the key id (public, 16 hex) finds the row, the secret
(256 random bits) is checked against a salted SHA-256 with a constant-time comparison.
Only the salt and the digest are stored. Nothing is cached: a revoked key fails at once.

Every request runs the lookup, so it skips SQLAlchemy's statement machinery (a prebuilt,
dialect-compiled query on a pooled DBAPI cursor), and on SQLite it can run right on the
event loop (`authenticate_here`), sparing the hop to a worker thread (docs/measurements.md).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from redline.auth.principal import ROLES, Principal, join_roles, parse_roles
from redline.db import make_engine, migrate
from redline.errors import AuthError, ConflictError, InputError, NotFoundError
from redline.tables import api_keys_table, principals_table

# Built once: constructing the statement cost more than running it (every request runs it).
_KEY_LOOKUP = (
    select(
        api_keys_table.c.salt,
        api_keys_table.c.digest,
        api_keys_table.c.revoked_at,
        principals_table.c.id,
        principals_table.c.roles,
        principals_table.c.deployment,
        principals_table.c.revoked_at.label("p_rev"),
    )
    .join(principals_table, principals_table.c.id == api_keys_table.c.principal_id)
    .where(api_keys_table.c.key_id == bindparam("key_id"))
)

KEY_PREFIX = "rl_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")
_KEY = re.compile(r"^rl_([0-9a-f]{16})_([A-Za-z0-9_-]{20,128})$")
_DUMMY_SALT = "00" * 16


def _digest(salt_hex: str, secret: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt_hex) + secret.encode("utf-8")).hexdigest()


class _KeyRow(NamedTuple):  # the columns of _KEY_LOOKUP, in order
    salt: str
    digest: str
    revoked_at: float | None
    id: str
    roles: str
    deployment: str
    p_rev: float | None


@dataclass(frozen=True)
class _Lookup:
    """_KEY_LOOKUP compiled once for one dialect: its SQL and how it takes the key id."""

    sql: str
    positional: bool

    @classmethod
    def compile(cls, engine: Engine) -> _Lookup:
        compiled = _KEY_LOOKUP.compile(dialect=engine.dialect)
        return cls(str(compiled), bool(compiled.positional))

    def params(self, key_id: str) -> Any:
        return (key_id,) if self.positional else {"key_id": key_id}


def _parse_key(key: str) -> tuple[str, str]:
    match = _KEY.match(key)
    if match is None:
        raise AuthError("invalid API key")
    key_id, secret = match.groups()
    return key_id, secret


def key_id_of(key: str) -> str:
    """The public key id of a well-formed key; AuthError otherwise."""
    return _parse_key(key)[0]


def _fetch(db: Any, sql: str, params: Any) -> _KeyRow | None:
    cur = db.cursor()
    try:
        cur.execute(sql, params)
        row = cur.fetchone()
    finally:
        cur.close()
    return None if row is None else _KeyRow(*row)


def _check(row: _KeyRow | None, secret: str) -> Principal:
    """Compare the secret even for an unknown key id (a dummy digest), then decide."""
    salt, digest = (row.salt, row.digest) if row is not None else (_DUMMY_SALT, "0" * 64)
    ok = hmac.compare_digest(_digest(salt, secret), digest)
    if row is None or not ok or row.revoked_at is not None or row.p_rev is not None:
        raise AuthError("invalid API key")
    return Principal(
        id=row.id, name=row.id, roles=frozenset(parse_roles(row.roles)), deployment=row.deployment
    )


def check_name(kind: str, value: str) -> str:
    if not _NAME.match(value):
        raise InputError(f"invalid {kind} {value!r}: letters, digits and ._@- only, 1-128 chars")
    return value


def check_roles(roles: list[str] | tuple[str, ...] | frozenset[str]) -> frozenset[str]:
    bad = sorted(set(roles) - set(ROLES))
    if bad or not roles:
        raise InputError(f"invalid role(s) {bad or '(none)'}; choose from {', '.join(ROLES)}")
    return frozenset(roles)


@dataclass(frozen=True)
class PrincipalInfo:
    """A principal as listed: never a secret, only key ids."""

    id: str
    deployment: str
    roles: tuple[str, ...]
    created_at: float
    revoked: bool
    key_ids: tuple[str, ...]


class PrincipalStore:
    def __init__(self, db: str | Engine) -> None:
        self.engine = make_engine(db) if isinstance(db, str) else db
        migrate(self.engine)
        self._lookup = _Lookup.compile(self.engine)
        url = self.engine.url
        here = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
        self._sqlite_path: str | None = url.database if here else None
        self._local = threading.local()
        self._local_dbs: list[sqlite3.Connection] = []
        self._local_lock = threading.Lock()

    # -- administration -------------------------------------------------------------
    def add(
        self, name: str, roles: list[str] | frozenset[str], deployment: str
    ) -> tuple[Principal, str]:
        check_name("principal name", name)
        check_name("deployment", deployment)
        role_set = check_roles(list(roles))
        now = time.time()
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(principals_table).values(
                        id=name,
                        deployment=deployment,
                        roles=join_roles(role_set),
                        created_at=now,
                        revoked_at=None,
                    )
                )
                key = self._new_key(conn, name, now)
        except IntegrityError as exc:
            raise ConflictError(f"principal {name!r} already exists") from exc
        return Principal(id=name, name=name, roles=role_set, deployment=deployment), key

    def _new_key(self, conn: Connection, principal_id: str, now: float) -> str:
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_hex(16)
        conn.execute(
            insert(api_keys_table).values(
                key_id=key_id,
                principal_id=principal_id,
                salt=salt,
                digest=_digest(salt, secret),
                created_at=now,
                revoked_at=None,
            )
        )
        return f"{KEY_PREFIX}{key_id}_{secret}"

    def rotate(self, name: str) -> str:
        """A new key for a live principal; every older key is revoked in the same transaction."""
        now = time.time()
        with self.engine.begin() as conn:
            row = conn.execute(
                select(principals_table).where(principals_table.c.id == name)
            ).first()
            if row is None or row.revoked_at is not None:
                raise NotFoundError(f"no active principal {name!r}")
            conn.execute(
                update(api_keys_table)
                .where(api_keys_table.c.principal_id == name, api_keys_table.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            return self._new_key(conn, name, now)

    def revoke(self, name: str) -> None:
        """Revoke a principal and all its keys: the next request with any of them fails."""
        now = time.time()
        with self.engine.begin() as conn:
            done = conn.execute(
                update(principals_table)
                .where(principals_table.c.id == name, principals_table.c.revoked_at.is_(None))
                .values(revoked_at=now)
            ).rowcount
            if not done:
                raise NotFoundError(f"no active principal {name!r}")
            conn.execute(
                update(api_keys_table)
                .where(api_keys_table.c.principal_id == name, api_keys_table.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )

    def listing(self, deployment: str | None = None) -> list[PrincipalInfo]:
        """Every principal (of one deployment, when given) with its live key ids."""
        with self.engine.connect() as conn:
            q = select(principals_table).order_by(
                principals_table.c.deployment, principals_table.c.id
            )
            if deployment is not None:
                q = q.where(principals_table.c.deployment == deployment)
            rows = conn.execute(q).all()
            keys = conn.execute(
                select(api_keys_table.c.key_id, api_keys_table.c.principal_id).where(
                    api_keys_table.c.revoked_at.is_(None)
                )
            ).all()
        by: dict[str, list[str]] = {}
        for k in keys:
            by.setdefault(k.principal_id, []).append(k.key_id)
        return [
            PrincipalInfo(
                r.id,
                r.deployment,
                parse_roles(r.roles),
                r.created_at,
                r.revoked_at is not None,
                tuple(by.get(r.id, [])),
            )
            for r in rows
        ]

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(select(func.count()).select_from(principals_table)).scalar_one()
            )

    def get(self, name: str) -> Principal:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(principals_table).where(principals_table.c.id == name)
            ).first()
        if row is None:
            raise NotFoundError(f"no principal {name!r}")
        return Principal(row.id, row.id, frozenset(parse_roles(row.roles)), row.deployment)

    # -- authentication -------------------------------------------------------------
    def authenticate(self, key: str) -> Principal:
        """The principal a key belongs to; AuthError for a malformed, unknown or revoked key.

        The same work is done whether or not the key id exists, so timing says nothing
        about which key ids are valid."""
        key_id, secret = _parse_key(key)
        raw = self.engine.raw_connection()
        try:
            row = _fetch(raw, self._lookup.sql, self._lookup.params(key_id))
        finally:
            raw.close()
        return _check(row, secret)

    def by_key_id(self, key_id: str) -> Principal:
        """The principal of a live key id (a console session holds one, never the key):
        AuthError when the key or its principal has been revoked."""
        with self.engine.connect() as conn:
            found = conn.execute(_KEY_LOOKUP, {"key_id": key_id}).first()
        if found is None or found.revoked_at is not None or found.p_rev is not None:
            raise AuthError("this key or its principal has been revoked")
        return Principal(found.id, found.id, frozenset(parse_roles(found.roles)), found.deployment)

    def authenticate_here(self, key: str) -> Principal | None:
        """`authenticate` in the caller's thread (the event loop) without ever waiting: on
        SQLite, with a read-only connection of this thread's own that gives up at once on a
        lock. None where that cannot be done (PostgreSQL, a busy or broken file): then run
        `authenticate` in a worker thread, which waits, or raises, as it should."""
        if self._sqlite_path is None:
            return None
        key_id, secret = _parse_key(key)
        try:
            row = _fetch(
                self._local_db(self._sqlite_path), self._lookup.sql, self._lookup.params(key_id)
            )
        except sqlite3.Error:
            return None
        return _check(row, secret)

    def _local_db(self, path: str) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            # Closed from close(), in another thread: hence check_same_thread=False.
            uri = Path(path).resolve().as_uri() + "?mode=ro"  # quotes # ? %
            db = sqlite3.connect(uri, uri=True, timeout=0, check_same_thread=False)
            self._local.db = db
            with self._local_lock:
                self._local_dbs.append(db)
        return db

    def close(self) -> None:
        with self._local_lock:
            for db in self._local_dbs:
                db.close()
            self._local_dbs.clear()
        self.engine.dispose()
