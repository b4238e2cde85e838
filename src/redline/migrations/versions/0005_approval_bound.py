"""The model and parameters a held chat request is forwarded with, for its approver.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: approvals opened before this revision, and holds outside the chat gateway,
    # bind no model or parameters.
    op.add_column("approvals", sa.Column("bound", sa.Text, nullable=True))


def downgrade() -> None:
    op.drop_column("approvals", "bound")
