"""The approval workflow's tables (SQLAlchemy Core; created by the Alembic migrations)."""

from __future__ import annotations

from sqlalchemy import Column, Float, Integer, PrimaryKeyConstraint, String, Table, Text

from redline.db import metadata

approvals_table = Table(
    "approvals",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("deployment", String(128), nullable=False, index=True),
    Column("requester", String(128), nullable=False),
    Column("subject_hash", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("content", Text, nullable=False),
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
