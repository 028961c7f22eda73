"""API hardening: the per-agency daily volume of online-query answers (``api_volume``).

Online-query answers are no longer stored as files (a delivery records what was asked, the
answer's SHA-256 and size); the daily volume limit counts their bytes per agency and Taipei
day here, shared by every worker.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``api_volume`` keyed by (agency, day)."""
    op.create_table(
        "api_volume",
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("answers", sa.Integer(), nullable=False),
        sa.Column("refused_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("agency_id", "day", name=op.f("pk_api_volume")),
    )


def downgrade() -> None:
    """Drop it again."""
    op.drop_table("api_volume")
