"""State tables: principals, their API keys, approvals and approval votes.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "principals",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("deployment", sa.String(128), nullable=False, index=True),
        sa.Column("roles", sa.String(256), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("revoked_at", sa.Float, nullable=True),
    )
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("principal_id", sa.String(128), sa.ForeignKey("principals.id"),
                  nullable=False, index=True),
        sa.Column("salt", sa.String(64), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("revoked_at", sa.Float, nullable=True),
    )  # fmt: skip
    op.create_table(
        "approvals",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("deployment", sa.String(128), nullable=False, index=True),
        sa.Column("requester", sa.String(128), nullable=False),
        sa.Column("subject_hash", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("categories", sa.Text, nullable=False),
        sa.Column("decided_by", sa.Text, nullable=False),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("release", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("roles_required", sa.String(256), nullable=False),
        sa.Column("approvers_needed", sa.Integer, nullable=False),
        sa.Column("decision_index", sa.Integer, nullable=True),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("decided_at", sa.Float, nullable=True),
        sa.Column("reject_reason", sa.Text, nullable=True),
        sa.Column("token", sa.Text, nullable=True),
        sa.Column("not_after", sa.Integer, nullable=True),
        sa.Column("event_index", sa.Integer, nullable=True),
        sa.Column("resumed_at", sa.Float, nullable=True),
        sa.Column("redeemed_at", sa.Float, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_table(
        "approval_votes",
        sa.Column("approval_id", sa.String(64), nullable=False),
        sa.Column("approver", sa.String(128), nullable=False),
        sa.Column("roles", sa.String(256), nullable=False),
        sa.Column("vote", sa.String(8), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("approval_id", "approver"),
    )


def downgrade() -> None:
    for table in ("approval_votes", "approvals", "api_keys", "principals"):
        op.drop_table(table)
