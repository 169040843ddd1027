"""Students' workspaces: one row each, their small fields, and the files kept in the data folder.

Revision ID: 0002_workspaces
Revises: 0001_class_board
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_workspaces"
down_revision = "0001_class_board"
branch_labels = None
depends_on = None


def _owner() -> sa.Column:
    return sa.Column(
        "workspace_id",
        sa.String(64),
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"),
        primary_key=True,
    )


def upgrade() -> None:
    op.create_table(
        "workspaces",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_index("ix_workspaces_last_used", "workspaces", ["last_used"])
    op.create_table(
        "workspace_fields",
        _owner(),
        sa.Column("name", sa.String(120), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "workspace_blobs",
        _owner(),
        sa.Column("name", sa.String(120), primary_key=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("workspace_blobs")
    op.drop_table("workspace_fields")
    op.drop_index("ix_workspaces_last_used", table_name="workspaces")
    op.drop_table("workspaces")
