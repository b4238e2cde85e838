"""Parked gateway answers (held tool calls and texts) and the approval ids that release them.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "parked_answers",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("principal", sa.String(128), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False, index=True),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_table(
        "parked_approvals",
        sa.Column("approval_id", sa.String(64), primary_key=True),
        sa.Column("parked_id", sa.String(64), nullable=False, index=True),
    )


def downgrade() -> None:
    op.drop_table("parked_approvals")
    op.drop_table("parked_answers")
