"""Tenant host names: what is accepted, how a Host header is read, the DNS record advised
and the check's verdicts (with resolvers that answer without a network)."""

from __future__ import annotations

import pytest

from palinsesto.accounts.domains import (
    check_dns,
    host_of_header,
    normalise_host,
    records_to_create,
    system_resolver,
)
from palinsesto.errors import InvalidValue


@pytest.mark.parametrize(
    ("raw", "stored"),
    [("TV.Example.COM", "tv.example.com"), ("tv.example.com.", "tv.example.com"),
     (" a-b.c ", "a-b.c"), ("localhost", "localhost")],
)  # fmt: skip
def test_host_names_are_stored_lower_case_without_the_root_dot(raw: str, stored: str) -> None:
    assert normalise_host(raw) == stored


@pytest.mark.parametrize(
    "raw",
    ["", "http://x.test", "x.test:80", "x.test/path", "-x.test", "x-.test", "a..b", "10.0.0.1",
     "::1", "x" * 64 + ".test", ".".join(["abc"] * 70), "tv.exämple.test", "a b.test"],
)  # fmt: skip
def test_anything_but_a_host_name_is_refused(raw: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        normalise_host(raw)
    assert "host" in refused.value.fields


@pytest.mark.parametrize(
    ("header", "host"),
    [("TV.example.com:8080", "tv.example.com"), ("tv.example.com.", "tv.example.com"),
     ("[::1]:80", ""), ("127.0.0.1:80", "127.0.0.1"), ("", "")],
)  # fmt: skip
def test_a_host_header_names_its_host(header: str, host: str) -> None:
    assert host_of_header(header) == host


def test_the_record_is_a_cname_to_a_platform_name_or_an_address_record() -> None:
    (cname,) = records_to_create("tv.a.test", "https://iptv.platform.example")
    assert (cname.type, cname.name, cname.value) == ("CNAME", "tv.a.test", "iptv.platform.example")
    (a,) = records_to_create("tv.a.test", "http://203.0.113.5:8000")
    assert (a.type, a.value) == ("A", "203.0.113.5")
    (aaaa,) = records_to_create("tv.a.test", "http://[2001:db8::1]:8000")
    assert (aaaa.type, aaaa.value) == ("AAAA", "2001:db8::1")


def test_the_check_compares_the_names_addresses() -> None:
    table = {
        "platform.example": {"203.0.113.5", "2001:db8::1"},
        "good.test": {"2001:db8::1"},
        "elsewhere.test": {"198.51.100.1"},
    }

    def resolve(host: str) -> set[str]:
        return table.get(host, set())

    base = "https://platform.example"
    assert check_dns("good.test", base, resolve).ok
    wrong = check_dns("elsewhere.test", base, resolve)
    assert not wrong.ok and "198.51.100.1" in wrong.detail and wrong.expected
    missing = check_dns("new.test", base, resolve)
    assert not missing.ok and "does not resolve" in missing.detail
    # A platform reached by address needs no lookup of its own.
    assert check_dns("x.test", "http://198.51.100.1:80", resolve).ok is False
    assert check_dns("elsewhere.test", "http://198.51.100.1:80", resolve).ok


def test_the_system_resolver_answers_localhost_and_nothing_for_invalid_names() -> None:
    assert "127.0.0.1" in system_resolver("localhost")
    assert system_resolver("no-such-name.invalid") == set()
