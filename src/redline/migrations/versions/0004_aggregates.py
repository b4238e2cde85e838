"""Distinct surveillance subjects per principal and per deployment, as keyed hashes.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "aggregate_subjects",
        sa.Column("deployment", sa.String(256), nullable=False),
        sa.Column("scope", sa.String(256), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("last_seen", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("deployment", "scope", "subject"),
    )
    op.create_index(
        "ix_aggregate_subjects_window",
        "aggregate_subjects",
        ["deployment", "scope", "last_seen"],
    )


def downgrade() -> None:
    op.drop_index("ix_aggregate_subjects_window", table_name="aggregate_subjects")
    op.drop_table("aggregate_subjects")
