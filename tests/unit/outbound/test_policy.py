"""The outbound policy with plain values: which addresses pass, how allow rules read."""

from __future__ import annotations

import ipaddress

import pytest

from palinsesto.config import ConfigError, load_settings
from palinsesto.outbound import (
    REFUSED,
    AllowRuleError,
    OutboundRefused,
    parse_allow_rules,
    policy_from_settings,
    policy_from_text,
)

DENIED = [
    "127.0.0.1",
    "127.8.9.10",
    "0.0.0.0",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # CGNAT
    "192.0.0.170",
    "198.18.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "224.0.0.1",  # multicast, unless a UDP source asks for it
    "::1",
    "::",
    "fc00::1",
    "fd12:3456::1",
    "fe80::1",
    "ff02::1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:169.254.169.254",
    "::127.0.0.1",  # IPv4-compatible
    "2002:7f00:1::1",  # 6to4 around 127.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 around 169.254.169.254
    "64:ff9b::a9fe:a9fe",  # NAT64 around 169.254.169.254
    "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo around 10.0.0.1
]
PUBLIC = ["1.1.1.1", "8.8.8.8", "93.184.215.14", "2606:4700:4700::1111", "64:ff9b::808:808"]


@pytest.mark.parametrize("address", DENIED)
def test_non_public_addresses_are_refused_with_one_message(address: str) -> None:
    policy = policy_from_text()
    with pytest.raises(OutboundRefused) as refused:
        policy.addresses(address, 80)
    assert str(refused.value) == REFUSED


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    assert policy_from_text().addresses(address, 443) == [ipaddress.ip_address(address)]


def test_multicast_only_for_udp_sources() -> None:
    policy = policy_from_text()
    assert policy.addresses("239.1.1.1", 1234, multicast=True)
    with pytest.raises(OutboundRefused):
        policy.addresses("239.1.1.1", 1234)


def test_a_name_is_refused_when_any_of_its_addresses_is() -> None:
    answers = {"mixed.test": ["93.184.215.14", "10.0.0.5"], "cdn.test": ["93.184.215.14"]}
    policy = policy_from_text()
    policy = type(policy)(
        policy.allow, policy.denied_hosts, resolver=lambda h, _p: answers.get(h, [])
    )
    assert policy.addresses("cdn.test", 80) == [ipaddress.ip_address("93.184.215.14")]
    with pytest.raises(OutboundRefused) as mixed:
        policy.addresses("mixed.test", 80)
    with pytest.raises(OutboundRefused) as unknown:
        policy.addresses("nowhere.test", 80)
    # A name that does not resolve reads exactly like a refused one.
    assert str(mixed.value) == str(unknown.value) == REFUSED


def test_allow_rules_open_a_range_or_one_port() -> None:
    rules = parse_allow_rules("10.0.0.0/8, 127.0.0.1:8080 [fd00::/8]:443 [::1]")
    assert [(str(r.network), r.port) for r in rules] == [
        ("10.0.0.0/8", None),
        ("127.0.0.1/32", 8080),
        ("fd00::/8", 443),
        ("::1/128", None),
    ]
    policy = policy_from_text("10.0.0.0/8, 127.0.0.1:8080, [fd00::/8]:443")
    assert policy.addresses("10.9.9.9", 554)
    assert policy.addresses("127.0.0.1", 8080)
    assert policy.addresses("fd00::7", 443)
    for host, port in (("127.0.0.1", 8081), ("fd00::7", 80), ("169.254.169.254", 80)):
        with pytest.raises(OutboundRefused):
            policy.addresses(host, port)


def test_denied_host_names_and_the_old_settings() -> None:
    settings = load_settings(
        {},
        outbound_denied_hosts="evil.example",
        live_denied_hosts="old.example",
        live_allow_private_sources=True,
    )
    policy = policy_from_settings(settings)
    assert policy.addresses("10.0.0.1", 80)  # allow_all, the old switch
    for name in ("evil.example", "OLD.example."):
        with pytest.raises(OutboundRefused):
            policy.addresses(name, 80)


@pytest.mark.parametrize("text", ["10.0.0.0/33", "127.0.0.1:0", "[::1]x", "nonsense", "1.2.3.4:x"])
def test_unreadable_allow_rules_are_refused_at_start(text: str) -> None:
    with pytest.raises(AllowRuleError):
        parse_allow_rules(text)
    with pytest.raises(ConfigError, match="OUTBOUND_ALLOW_NETWORKS"):
        load_settings({"PALINSESTO_OUTBOUND_ALLOW_NETWORKS": text})
