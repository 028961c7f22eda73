"""Alembic migrations of the access schema."""
