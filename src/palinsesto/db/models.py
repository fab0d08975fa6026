"""Imports every model module so that ``Base.metadata`` knows all tables.

Migrations and tests import this; a new model module is added here.
"""

from palinsesto.accounts import models as accounts_models
from palinsesto.catalog import models as catalog_models
from palinsesto.cluster import models as cluster_models
from palinsesto.db.base import Base
from palinsesto.epg import models as epg_models
from palinsesto.trust import models as trust_models

__all__ = [
    "Base",
    "accounts_models",
    "catalog_models",
    "cluster_models",
    "epg_models",
    "trust_models",
]
