"""The catalog: hospitals, their files and the project's own bookkeeping, in SQLite or PostgreSQL."""

from .db import Catalog, create_catalog_engine, is_sqlite

__all__ = ["Catalog", "create_catalog_engine", "is_sqlite"]
