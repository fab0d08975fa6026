"""Storage: the SQLAlchemy base, engines and sessions, and migrations."""

from palinsesto.db.base import Base, TenantScoped, utcnow
from palinsesto.db.engine import Database, make_engine
from palinsesto.db.migrate import upgrade

__all__ = ["Base", "Database", "TenantScoped", "make_engine", "upgrade", "utcnow"]
