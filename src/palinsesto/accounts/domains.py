"""A tenant's own host names: what they may be, the DNS record to create, and the check.

A request whose ``Host`` names a tenant's domain belongs to that tenant (the viewer
surfaces refuse other tenants' lines there, see panel/playback/domains.py). The owner
creates a DNS record pointing the name at the platform: a CNAME to the platform's host
name, or A/AAAA records to its addresses when the platform is reached by address. The
check resolves both names and passes when they share an address; the resolver is a plain
function, so tests give one that answers without a network.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from palinsesto.errors import InvalidValue

Resolver = Callable[[str], set[str]]

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalise_host(value: str) -> str:
    """``value`` as a stored host name: lower case, no trailing dot; else InvalidValue."""
    host = value.strip().lower().rstrip(".")
    labels = host.split(".")
    if (
        not host
        or len(host) > 253
        or not all(_LABEL.match(label) for label in labels)
        or _is_address(host)
    ):
        raise InvalidValue("Enter a host name such as tv.example.com (no scheme, no port).", "host")
    return host


def host_of_header(value: str) -> str:
    """The host name of a ``Host`` header (port and trailing dot dropped, lower case)."""
    value = value.strip().lower()
    if value.startswith("["):  # an IPv6 literal: never a tenant's domain
        return ""
    return value.rsplit(":", 1)[0].rstrip(".") if ":" in value else value.rstrip(".")


def host_and_port(value: str) -> str:
    """A ``Host`` header as it may go into a URL: the host name, then ``:port`` if given."""
    name = host_of_header(value)
    port = value.strip().rsplit(":", 1)[1] if ":" in value else ""
    return f"{name}:{port}" if port.isdigit() and len(port) <= 5 else name


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def platform_host(public_url: str) -> str:
    """The host name (or address) viewers reach the platform on."""
    return urlsplit(public_url).hostname or "127.0.0.1"


@dataclass(frozen=True, slots=True)
class DnsRecord:
    type: str  # "CNAME" or "A" / "AAAA"
    name: str
    value: str


def records_to_create(host: str, public_url: str) -> list[DnsRecord]:
    """The record(s) that point ``host`` at the platform."""
    target = platform_host(public_url)
    if _is_address(target):
        kind = "AAAA" if ":" in target else "A"
        return [DnsRecord(kind, host, target)]
    return [DnsRecord("CNAME", host, target)]


def system_resolver(host: str) -> set[str]:
    """The addresses ``host`` resolves to through the system's resolver (blocking)."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return set()
    return {str(info[4][0]) for info in infos}


@dataclass(frozen=True, slots=True)
class DnsCheck:
    ok: bool
    addresses: list[str]
    expected: list[str]
    detail: str


def check_dns(host: str, public_url: str, resolve: Resolver) -> DnsCheck:
    """Whether ``host`` resolves to an address of the platform (blocking: a worker thread)."""
    target = platform_host(public_url)
    expected = {target} if _is_address(target) else resolve(target)
    found = resolve(host)
    if not found:
        detail = f"{host} does not resolve yet (DNS changes can take a while to spread)."
        return DnsCheck(False, [], sorted(expected), detail)
    if found & expected:
        return DnsCheck(True, sorted(found), sorted(expected), f"{host} points at this platform.")
    detail = (
        f"{host} resolves to {', '.join(sorted(found))}, not to this platform "
        f"({', '.join(sorted(expected)) or target})."
    )
    return DnsCheck(False, sorted(found), sorted(expected), detail)
