"""Reusable test helpers that are not fixtures of one subpackage (e.g. a PostgreSQL server)."""
