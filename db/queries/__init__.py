"""Parameterised SQL, one module per aggregate."""

from db.queries import geometry, health, sql, zones

__all__ = ["geometry", "health", "sql", "zones"]
