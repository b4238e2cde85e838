"""Every table Redline keeps, declared once (SQLAlchemy Core).

`metadata` holds the state tables (principals, keys, approvals, parked answers, console
sessions, aggregate subjects), which the Alembic migrations create; `ledger_metadata` holds
the ledger's, which each ledger store creates from `ledger_ddl` on SQLite and PostgreSQL
alike.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.schema import CreateTable

metadata = MetaData()

principals_table = Table(
    "principals",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("deployment", String(128), nullable=False, index=True),
    Column("roles", String(256), nullable=False),  # comma-separated
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float, nullable=True),
)

api_keys_table = Table(
    "api_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("principal_id", String(128), ForeignKey("principals.id"), nullable=False, index=True),
    Column("salt", String(64), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float, nullable=True),
)

approvals_table = Table(
    "approvals",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("deployment", String(128), nullable=False, index=True),
    Column("requester", String(128), nullable=False),
    Column("subject_hash", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("content", Text, nullable=False),
    Column("bound", Text, nullable=True),  # the model and parameters (sealed like content)
    Column("categories", Text, nullable=False),
    Column("decided_by", Text, nullable=False),
    Column("evidence", Text, nullable=False),
    Column("release", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("roles_required", String(256), nullable=False),
    Column("approvers_needed", Integer, nullable=False),
    Column("decision_index", Integer, nullable=True),
    Column("state", String(16), nullable=False, index=True),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("decided_at", Float, nullable=True),
    Column("reject_reason", Text, nullable=True),
    Column("token", Text, nullable=True),
    Column("not_after", Integer, nullable=True),
    Column("event_index", Integer, nullable=True),  # ledger index of approval.approved
    Column("resumed_at", Float, nullable=True),
    Column("redeemed_at", Float, nullable=True),
    Column("version", Integer, nullable=False, default=0),
)

votes_table = Table(
    "approval_votes",
    metadata,
    Column("approval_id", String(64), nullable=False),
    Column("approver", String(128), nullable=False),
    Column("roles", String(256), nullable=False),
    Column("vote", String(8), nullable=False),
    Column("at", Float, nullable=False),
    Column("comment", Text, nullable=False, default=""),
    PrimaryKeyConstraint("approval_id", "approver"),
)

# Gateway answers with parts withheld for approval (gateway/chat/parking.py): in the state
# database, not a worker's memory, so a resume may reach any worker and survives a restart.
parked_answers_table = Table(
    "parked_answers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("principal", String(128), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("created_at", Float, nullable=False, index=True),
    Column("body", Text, nullable=False),  # the completion and its checked items, as JSON
)

parked_approvals_table = Table(
    "parked_approvals",
    metadata,
    Column("approval_id", String(64), primary_key=True),
    Column("parked_id", String(64), nullable=False, index=True),
)

# Console sessions (console/sessions.py): the SHA-256 of the cookie's token, never the token.
console_sessions_table = Table(
    "console_sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("principal", String(128), nullable=False),
    Column("key_id", String(32), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False, index=True),
)

# Distinct surveillance subjects (aggregate/store.py): one row per (deployment, scope,
# subject) with the time last seen; scope is a principal id, or "" for the deployment.
aggregate_subjects_table = Table(
    "aggregate_subjects",
    metadata,
    Column("deployment", String(256), nullable=False),
    Column("scope", String(256), nullable=False),
    Column("subject", String(64), nullable=False),  # HMAC-SHA256 under the deployment's secret
    Column("last_seen", Float, nullable=False),
    PrimaryKeyConstraint("deployment", "scope", "subject"),
    Index("ix_aggregate_subjects_window", "deployment", "scope", "last_seen"),
)

ledger_metadata = MetaData()

# SQLite makes an `INTEGER` primary key the rowid (no second index); PostgreSQL needs 64 bits.
_Index = BigInteger().with_variant(Integer(), "sqlite")

ledger_entries_table = Table(
    "ledger_entries",
    ledger_metadata,
    Column("idx", _Index, primary_key=True, autoincrement=False),
    Column("body", LargeBinary, nullable=False),
)

ledger_nodes_table = Table(
    "ledger_nodes",
    ledger_metadata,
    Column("id", _Index, primary_key=True, autoincrement=False),  # level << 48 | index
    Column("hash", LargeBinary, nullable=False),
)

# The one ledger table whose rows may be erased: the commitment stays in the entry.
ledger_content_table = Table(
    "ledger_content",
    ledger_metadata,
    Column("idx", _Index, primary_key=True, autoincrement=False),
    Column("body", LargeBinary, nullable=False),
)

ledger_checkpoints_table = Table(
    "ledger_checkpoints",
    ledger_metadata,
    Column("id", _Index, primary_key=True, autoincrement=True),
    Column("size", BigInteger, nullable=False),
    Column("root", LargeBinary, nullable=False),
    Column("note", Text, nullable=False),
    Column("time", Text, nullable=False),
)

# One row a health probe rewrites to learn that the ledger can still commit (issue 18).
ledger_probe_table = Table(
    "ledger_probe",
    ledger_metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("time", Text, nullable=False),
)

# The log, its nodes and its checkpoints never change once written.
APPEND_ONLY = ("ledger_entries", "ledger_nodes", "ledger_checkpoints")


def ledger_ddl(backend: str) -> str:
    """`CREATE TABLE IF NOT EXISTS` for every ledger table in the SQL of `backend`
    (`sqlite` or `postgresql`)."""
    dialect = make_url(f"{backend}://").get_dialect()()
    return "".join(
        f"{str(CreateTable(t, if_not_exists=True).compile(dialect=dialect)).strip()};\n"
        for t in ledger_metadata.sorted_tables
    )
