"""Alembic migrations of the metadata database (a package so they ship with dacu)."""
