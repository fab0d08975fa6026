"""Which tenant a request's ``Host`` names: every tenant domain, held in memory.

The table is small (a few names a tenant) and read on every viewer request, so the whole
map is loaded at once and kept until the platform-wide ``domains`` topic changes (the
admin API publishes it when a domain is added or removed). A request on a host nobody
claimed (the platform's own address) belongs to no tenant in particular.
"""

from __future__ import annotations

import threading

from sqlalchemy import select

from palinsesto.accounts.domains import host_of_header
from palinsesto.accounts.models import TenantDomain
from palinsesto.cluster.events import ChangeEvents
from palinsesto.db import Database

DOMAINS_TOPIC = "domains"
PLATFORM_WIDE = 0  # the "tenant" platform-wide topics are published under


class DomainsStale(LookupError):
    """The map must be reloaded from the database first (a worker thread's job)."""


class DomainDirectory:
    def __init__(self, db: Database, events: ChangeEvents) -> None:
        self._db, self._events = db, events
        self._loaded: tuple[int, dict[str, int]] | None = None
        self._lock = threading.Lock()

    def tenant_for_host(self, host_header: str, *, cached_only: bool = False) -> int | None:
        """The tenant whose domain ``host_header`` names, or None (the platform's host)."""
        host = host_of_header(host_header)
        if not host:
            return None
        return self._map(cached_only=cached_only).get(host)

    def _map(self, *, cached_only: bool) -> dict[str, int]:
        version = self._events.version(PLATFORM_WIDE, DOMAINS_TOPIC)
        loaded = self._loaded
        if loaded is not None and loaded[0] == version:
            return loaded[1]
        if cached_only:
            raise DomainsStale("domains changed")
        with self._db.session() as session:
            rows = session.execute(select(TenantDomain.host, TenantDomain.tenant_id)).all()
        found = {host: tenant_id for host, tenant_id in rows}
        with self._lock:
            self._loaded = (version, found)
        return found


def shared_domains(
    services: dict[str, object], db: Database, events: ChangeEvents
) -> DomainDirectory:
    """The process's one :class:`DomainDirectory`, kept in ``services["domains"]``."""
    directory = services.get("domains")
    if not isinstance(directory, DomainDirectory):
        directory = DomainDirectory(db, events)
        services["domains"] = directory
    return directory
