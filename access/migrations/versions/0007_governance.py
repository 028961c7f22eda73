"""Governance faithful to the regulation: agency codes and kinds (point 3), the legal basis,
requested validity and applicant of an application (points 10, 13), the letter, recorder and
departing account of a personnel change (point 12), the recorder of a termination (point 20).

Every new column is nullable: rows written before this revision keep working and the
access layer requires the values of everything written after it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None



def upgrade() -> None:
    """Add the columns."""
    with op.batch_alter_table("agencies") as batch:
        batch.add_column(sa.Column("code", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("kind", sa.String(length=32), nullable=True))
        batch.create_unique_constraint(op.f("uq_agencies_code"), ["code"])
    with op.batch_alter_table("applications") as batch:
        batch.add_column(sa.Column("legal_basis", sa.Text(), nullable=True))
        batch.add_column(sa.Column("requested_from", sa.Date(), nullable=True))
        batch.add_column(sa.Column("requested_to", sa.Date(), nullable=True))
        batch.add_column(sa.Column("submitted_by", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_applications_submitted_by_users"), "users", ["submitted_by"], ["id"]
        )
    with op.batch_alter_table("personnel_changes") as batch:
        batch.add_column(sa.Column("letter_ref", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("recorded_by", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("departing_user_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_personnel_changes_recorded_by_users"), "users", ["recorded_by"], ["id"]
        )
        batch.create_foreign_key(
            op.f("fk_personnel_changes_departing_user_id_users"),
            "users",
            ["departing_user_id"],
            ["id"],
        )
    with op.batch_alter_table("terminations") as batch:
        batch.add_column(sa.Column("recorded_by", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_terminations_recorded_by_users"), "users", ["recorded_by"], ["id"]
        )


def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table("terminations") as batch:
        batch.drop_constraint(op.f("fk_terminations_recorded_by_users"), type_="foreignkey")
        batch.drop_column("recorded_by")
    with op.batch_alter_table("personnel_changes") as batch:
        batch.drop_constraint(
            op.f("fk_personnel_changes_departing_user_id_users"), type_="foreignkey"
        )
        batch.drop_constraint(op.f("fk_personnel_changes_recorded_by_users"), type_="foreignkey")
        batch.drop_column("departing_user_id")
        batch.drop_column("recorded_by")
        batch.drop_column("letter_ref")
    with op.batch_alter_table("applications") as batch:
        batch.drop_constraint(op.f("fk_applications_submitted_by_users"), type_="foreignkey")
        batch.drop_column("submitted_by")
        batch.drop_column("requested_to")
        batch.drop_column("requested_from")
        batch.drop_column("legal_basis")
    with op.batch_alter_table("agencies") as batch:
        batch.drop_constraint(op.f("uq_agencies_code"), type_="unique")
        batch.drop_column("kind")
        batch.drop_column("code")
