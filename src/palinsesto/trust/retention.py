"""How long client addresses are kept in stored rows, without I/O.

A stored address (an audit entry's, a notice's, a counter-notice's) is truncated to its
network after ``truncate_days`` — IPv4 to its /24, IPv6 to its /48, enough to see where
abuse came from but not who — and removed after ``remove_days``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta


def truncate_ip(value: str) -> str:
    """``value``'s network (``203.0.113.0/24``, ``2001:db8:1::/48``); '' when not an address.

    A value that is already a network is returned as it is.
    """
    text = value.strip()
    if not text:
        return ""
    try:
        if "/" in text:
            return str(ipaddress.ip_network(text, strict=False))
        address = ipaddress.ip_address(text)
    except ValueError:
        return ""
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def is_truncated(value: str) -> bool:
    return "/" in value or not value


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    truncate_days: int
    remove_days: int

    def truncate_before(self, now: datetime) -> datetime:
        return now - timedelta(days=self.truncate_days)

    def remove_before(self, now: datetime) -> datetime:
        return now - timedelta(days=self.remove_days)
