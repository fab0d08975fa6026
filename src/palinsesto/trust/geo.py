"""The viewer's country from their address, through a MaxMind DB file (GeoIP2/GeoLite2
Country or City, or any compatible database the operator points ``PALINSESTO_GEOIP_DB`` at).

The type-agnostic ``maxminddb`` reader is used so Country and City files both work. Answers
are memoised per address (players reconnect from the same address all day); the memo is
bounded and simply cleared when full.
"""

from __future__ import annotations

import threading
from typing import Any

import maxminddb


class GeoDatabaseError(ValueError):
    """The configured file is missing or not a MaxMind DB (raised at startup)."""


class CountryLookup:
    """ISO 3166 alpha-2 country of an address, or None when unknown."""

    def __init__(self, path: str, memo_size: int = 100_000) -> None:
        try:
            self._reader: Any = maxminddb.open_database(path)
        except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
            raise GeoDatabaseError(f"cannot open GeoIP database {path!r}: {exc}") from None
        self._memo: dict[str, str | None] = {}
        self._memo_size = memo_size
        self._lock = threading.Lock()

    def country(self, address: str) -> str | None:
        hit = self._memo.get(address, _MISSING)
        if hit is not _MISSING:
            return hit  # type: ignore[return-value]
        found = self._lookup(address)
        with self._lock:
            if len(self._memo) >= self._memo_size:
                self._memo.clear()
            self._memo[address] = found
        return found

    def _lookup(self, address: str) -> str | None:
        try:
            record = self._reader.get(address)  # parses the text itself, faster than ipaddress
        except ValueError:  # not an IP address (a unix socket peer, a test client's name)
            return None
        if not isinstance(record, dict):
            return None
        # "country" is where the address is used; "registered_country" only where the block
        # was registered (often another continent), so it is a fallback, never preferred.
        for key in ("country", "registered_country"):
            entry = record.get(key)
            if isinstance(entry, dict) and isinstance(entry.get("iso_code"), str):
                return str(entry["iso_code"]).upper()
        return None

    def close(self) -> None:
        self._reader.close()


_MISSING = object()
