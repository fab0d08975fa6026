"""The client's address behind trusted reverse proxies (sans I/O).

``X-Forwarded-For`` is written by whoever sends the request, so it is believed only when
the peer that connected is one of ``PALINSESTO_TRUSTED_PROXIES``; from anyone else it is
ignored and the peer's own address is the client's. Behind a chain of trusted proxies
the client is the right-most address in the header that is not itself a trusted proxy
(each proxy appends the address it received the request from), the rule uvicorn's
``forwarded_allow_ips`` follows on the panel port, so both ports agree.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    """The configured proxy addresses and ranges (empty: trust no one)."""

    def __init__(self, networks: Iterable[Network] = ()) -> None:
        self.networks = tuple(networks)

    @classmethod
    def parse(cls, text: str) -> TrustedProxies:
        """From ``"10.0.0.1, 192.168.0.0/16, ::1"``; raises ValueError naming a bad entry."""
        networks = []
        for entry in entries(text):
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(f"not an IP address or network: {entry!r}") from None
        return cls(networks)

    def trusts(self, address: str) -> bool:
        if not self.networks:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.networks)

    def client_address(self, peer: str, forwarded_for: str | None) -> str:
        """Who is asking: ``peer``, unless ``peer`` is a trusted proxy that says otherwise."""
        if not forwarded_for or not self.trusts(peer):
            return peer
        hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
        for hop in reversed(hops):
            if not self.trusts(hop):
                return hop
        return hops[0] if hops else peer


def entries(text: str) -> list[str]:
    """The comma-separated entries of the setting, blanks dropped."""
    return [e.strip() for e in text.split(",") if e.strip()]
