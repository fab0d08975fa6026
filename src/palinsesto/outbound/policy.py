"""Which addresses the server may connect to when it fetches a URL someone else gave it.

Every outbound fetch (EPG sources, M3U imports, live pull sources and every HLS segment
ffmpeg reads) asks this one policy. A name is resolved once, every address it resolves to
is checked, and the caller connects to a checked address: there is no second lookup for a
DNS server to answer differently (rebinding).

Refused by default: loopback, private (RFC 1918, IPv6 ULA), link-local (169.254/16 with
the cloud metadata address, fe80::/10), CGNAT (100.64/10), multicast, the unspecified
address, reserved and documentation ranges, and IPv6 forms that carry such an IPv4
address (mapped, 6to4, NAT64, Teredo). The platform admin lets chosen ranges through with
``outbound_allow_networks`` (a hotel's 10.0.0.0/8 head-end, a camera's address and port).

Refusals carry one message whatever the address was, the port was, or whether anything
listens there: the policy answers before any connection is tried, so a refusal says
nothing about the target.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from palinsesto.config import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]

REFUSED = "not an address this server may fetch from"

# IPv6 prefixes whose addresses embed an IPv4 address that is what really gets reached.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")


class OutboundRefused(ValueError):
    """The policy refuses the target; the message never says more than :data:`REFUSED`."""


class AllowRuleError(ValueError):
    """An ``outbound_allow_networks`` entry that cannot be read; the message names it."""


@dataclass(frozen=True, slots=True)
class AllowRule:
    """A range the platform admin allows, on every port or on one."""

    network: IPNetwork
    port: int | None = None

    def covers(self, address: IPAddress, port: int) -> bool:
        return address in self.network and (self.port is None or self.port == port)


def parse_allow_rules(text: str) -> tuple[AllowRule, ...]:
    """``10.0.0.0/8, 127.0.0.1:8080, [fd00::/8]:443, ::1`` (commas or spaces between)."""
    rules: list[AllowRule] = []
    for entry in text.replace(",", " ").split():
        network_text, port = entry, None
        if entry.startswith("["):
            inner, _, rest = entry[1:].partition("]")
            network_text = inner
            if rest:
                if not rest.startswith(":"):
                    raise AllowRuleError(f"cannot read {entry!r}: expected [address]:port")
                port = _port(entry, rest[1:])
        elif entry.count(":") == 1:
            network_text, _, port_text = entry.partition(":")
            port = _port(entry, port_text)
        try:
            network = ipaddress.ip_network(network_text, strict=False)
        except ValueError as exc:
            raise AllowRuleError(f"cannot read {entry!r}: {exc}") from None
        rules.append(AllowRule(network, port))
    return tuple(rules)


def _port(entry: str, text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise AllowRuleError(f"cannot read {entry!r}: the port must be 1-65535")
    return int(text)


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, NAT64, Teredo), if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64 or address in _NAT64_LOCAL:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    # IPv4-compatible (::a.b.c.d, deprecated but still routed by some stacks).
    if int(address) >> 32 == 0 and int(address) > 1:
        return ipaddress.IPv4Address(int(address))
    return None


def is_public(address: IPAddress, *, multicast: bool = False) -> bool:
    """Whether ``address`` is on the public internet (``multicast``: or a multicast group)."""
    inner = embedded_ipv4(address)
    if inner is not None:
        return is_public(inner, multicast=multicast)
    if address.is_multicast:
        return multicast
    # is_global is False for loopback, private, link-local (169.254.169.254 included),
    # CGNAT 100.64/10, unspecified, reserved, documentation and benchmark ranges.
    return address.is_global


def _system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class OutboundPolicy:
    """The one outbound-fetch policy; build it with :func:`policy_from_settings`.

    ``allow_all`` is the old ``live_allow_private_sources`` switch: every address passes
    (denied host names still do not).
    """

    allow: tuple[AllowRule, ...] = ()
    denied_hosts: frozenset[str] = frozenset()
    allow_all: bool = False
    resolver: Resolver = field(default=_system_resolver, compare=False)

    def permits(self, address: IPAddress, port: int, *, multicast: bool = False) -> bool:
        if self.allow_all or is_public(address, multicast=multicast):
            return True
        return any(rule.covers(address, port) for rule in self.allow)

    def check_host_name(self, host: str) -> None:
        if host.lower().rstrip(".") in self.denied_hosts:
            raise OutboundRefused(REFUSED)

    def addresses(self, host: str, port: int, *, multicast: bool = False) -> list[IPAddress]:
        """The addresses of ``host`` to connect to, each checked; refused if any is not.

        All of them must pass: a name with one public and one private address would
        otherwise let the attacker pick which one a retry lands on.
        """
        host = host.strip("[]")
        self.check_host_name(host)
        try:
            found = [ipaddress.ip_address(host)]
        except ValueError:
            try:
                found = [ipaddress.ip_address(a.split("%")[0]) for a in self.resolver(host, port)]
            except (OSError, UnicodeError, ValueError):
                found = []
        # A name that does not resolve gets the same answer as a refused one: otherwise the
        # error would tell which internal names exist.
        if not found or not all(self.permits(a, port, multicast=multicast) for a in found):
            raise OutboundRefused(REFUSED)
        return found


def policy_from_text(
    allow_networks: str = "", denied_hosts: str = "", *, allow_all: bool = False
) -> OutboundPolicy:
    """A policy from the settings' text forms (comma-separated lists)."""
    names = frozenset(
        h.strip().lower().rstrip(".") for h in denied_hosts.replace(" ", ",").split(",")
    )
    return OutboundPolicy(parse_allow_rules(allow_networks), names - {""}, allow_all)


def policy_from_settings(settings: Settings) -> OutboundPolicy:
    """The policy the platform admin configured (``outbound_*``, and the older ``live_*``)."""
    denied = ",".join(filter(None, (settings.outbound_denied_hosts, settings.live_denied_hosts)))
    return policy_from_text(
        settings.outbound_allow_networks, denied, allow_all=settings.live_allow_private_sources
    )


@dataclass(frozen=True)
class BothPolicies(OutboundPolicy):
    """A target passes only if this policy and ``other`` both let it through: a node
    relaying for its panel honours the panel's policy and its own (the panel decides what
    the platform may reach, the node's operator what that machine's network may)."""

    other: OutboundPolicy = field(default_factory=OutboundPolicy)

    def permits(self, address: IPAddress, port: int, *, multicast: bool = False) -> bool:
        return OutboundPolicy.permits(
            self, address, port, multicast=multicast
        ) and self.other.permits(address, port, multicast=multicast)

    def check_host_name(self, host: str) -> None:
        OutboundPolicy.check_host_name(self, host)
        self.other.check_host_name(host)


def both(first: OutboundPolicy, second: OutboundPolicy) -> OutboundPolicy:
    """The policy that lets through what ``first`` and ``second`` both do (one lookup,
    by ``first``'s resolver)."""
    return BothPolicies(
        first.allow, first.denied_hosts, first.allow_all, first.resolver, other=second
    )
