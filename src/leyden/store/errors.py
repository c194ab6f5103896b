"""The one error every store raises, whatever its database."""

from __future__ import annotations

__all__ = ["StoreError"]


class StoreError(Exception):
    """The database cannot be opened, read or written; ``str(e)`` names the database (a
    file, or a PostgreSQL URL without its password) and why."""
